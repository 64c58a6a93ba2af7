//! The `simsched` command line: argument parsing and dispatch; the work happens in the library crates.

mod chart;
mod compare;
mod demand;
mod duration;
mod explain;
mod generate;
mod import;
mod policies;
mod prefetch;
mod progress;
mod report;
mod run;
mod serve;
mod setup;
mod table;

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
    /// Compare scheduling policies on a cluster and workload (default: the bundled openb sample)
    #[command(long_about = compare::LONG_ABOUT, after_help = compare::EXAMPLES)]
    Compare(compare::Args),
    /// Replay a workload on a cluster under one policy and summarise it
    #[command(long_about = run::LONG_ABOUT, after_help = run::EXAMPLES)]
    Run(run::Args),
    /// Show why a pod would be placed on a node, or why it fits nowhere
    #[command(long_about = explain::LONG_ABOUT, after_help = explain::EXAMPLES)]
    Explain(explain::Args),
    /// Build the HTML report of a saved run or comparison (its --out directory)
    #[command(long_about = report::LONG_ABOUT, after_help = report::EXAMPLES)]
    Report(report::Args),
    /// Write a synthetic cluster and workload
    #[command(long_about = generate::LONG_ABOUT, after_help = generate::EXAMPLES)]
    Generate(generate::Args),
    /// Convert a trace (openb, Alibaba 2018) into the native formats
    #[command(long_about = import::LONG_ABOUT, after_help = import::EXAMPLES)]
    Import(import::Args),
    /// Serve the plugins to a kube-scheduler as an HTTP scheduler extender
    #[command(long_about = serve::LONG_ABOUT, after_help = serve::EXAMPLES)]
    Serve(serve::Args),
    /// List the built-in policies and queue orders, or print one's configuration
    #[command(long_about = policies::LONG_ABOUT, after_help = policies::EXAMPLES)]
    Policies(policies::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Compare(args) => compare::run(&args),
        Command::Run(args) => run::run(&args),
        Command::Explain(args) => explain::run(&args),
        Command::Generate(args) => generate::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Policies(args) => policies::run(&args),
        Command::Report(args) => report::run(&args),
        Command::Serve(args) => serve::run(&args),
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
