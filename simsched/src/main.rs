//! The `simsched` command line: argument parsing and dispatch; the work happens in the library crates.

mod explain;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Explain, simulate and compare Kubernetes scheduling decisions, with kube-scheduler's plugins.
#[derive(Parser)]
#[command(name = "simsched", version, propagate_version = true, max_term_width = 110)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show why a pod would be placed on a node, or why it fits nowhere
    #[command(long_about = explain::LONG_ABOUT, after_help = explain::EXAMPLES)]
    Explain(explain::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Explain(args) => explain::run(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        // A closed pipe (`simsched … | head`) is the reader's choice, not an error.
        Err(err)
            if err.chain().any(|e| e.downcast_ref::<std::io::Error>().is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)) =>
        {
            ExitCode::SUCCESS
        }
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
