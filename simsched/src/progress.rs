//! Progress on stderr: shown only when stderr is a terminal, not `--quiet`, and the work lasts over a second.

use std::io::IsTerminal;
use std::sync::mpsc::{self, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How long work runs before its progress appears.
const SHOW_AFTER: Duration = Duration::from_secs(1);

/// A progress bar or spinner that stays hidden for its first second, so that short runs print nothing.
pub struct DelayedProgress {
    bar: ProgressBar,
    /// Tells the thread that would show the bar that the work is over.
    done: Option<(Sender<()>, JoinHandle<()>)>,
}

impl DelayedProgress {
    /// A bar counting to `total`, or, without a total, a spinner with a message.
    pub fn new(total: Option<u64>, quiet: bool) -> DelayedProgress {
        let bar = match total {
            Some(total) => ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} ({elapsed}, {eta} left)")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            ),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden()).with_style(
                ProgressStyle::with_template("{spinner} {msg} ({elapsed})").unwrap_or_else(|_| ProgressStyle::default_spinner()),
            ),
        };
        if quiet || !std::io::stderr().is_terminal() {
            return DelayedProgress { bar, done: None };
        }
        let (sender, receiver) = mpsc::channel::<()>();
        let shown = bar.clone();
        let thread = std::thread::spawn(move || {
            if let Err(RecvTimeoutError::Timeout) = receiver.recv_timeout(SHOW_AFTER) {
                shown.set_draw_target(ProgressDrawTarget::stderr());
                shown.enable_steady_tick(Duration::from_millis(120));
            }
        });
        DelayedProgress { bar, done: Some((sender, thread)) }
    }

    /// Sets the message.
    pub fn set_message(&self, message: String) {
        self.bar.set_message(message);
    }

    /// Counts one more unit of work done.
    pub fn inc(&self) {
        self.bar.inc(1);
    }

    /// Removes the bar from the terminal.
    pub fn finish(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some((sender, thread)) = self.done.take() {
            // The thread is waiting on the channel or has shown the bar; either way it ends now.
            let _ = sender.send(());
            let _ = thread.join();
        }
        self.bar.finish_and_clear();
    }
}

impl Drop for DelayedProgress {
    fn drop(&mut self) {
        self.stop();
    }
}
