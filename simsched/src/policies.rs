//! `simsched policies`: the built-in policies and queue orders, and the configuration behind each.

use std::io::Write;

use anyhow::{Context, Result};

use crate::table::{table, write_rows};

pub const LONG_ABOUT: &str = "List the built-in scheduling policies and queue orders, or print the KubeSchedulerConfiguration of one.

A built-in policy is named on the command line as NAME or NAME/QUEUE (`--policy binpack/sjf`). Each is an ordinary KubeSchedulerConfiguration over simsched's plugins: print one to start a configuration of your own.";

pub const EXAMPLES: &str = "\
Examples:
  # What is there
  simsched policies

  # The configuration behind binpack with shortest-job-first, as a starting point
  simsched policies binpack/sjf > mine.yaml";

#[derive(clap::Args, Debug)]
pub struct Args {
    /// Print this policy's KubeSchedulerConfiguration (NAME or NAME/QUEUE)
    #[arg(value_name = "NAME[/QUEUE]")]
    policy: Option<String>,
}

pub fn run(args: &Args) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if let Some(spec) = &args.policy {
        let yaml = plugins::policy_spec_yaml(spec).with_context(|| format!("failed to show policy {spec}"))?;
        write!(out, "{yaml}")?;
        return Ok(());
    }
    writeln!(out, "Policies (--policy NAME):")?;
    let mut t = table();
    t.set_header(vec!["NAME", "DESCRIPTION"]);
    for policy in plugins::POLICIES {
        t.add_row(vec![policy.name, policy.description]);
    }
    write_rows(&mut out, t)?;
    writeln!(out, "\nQueue orders (--policy NAME/QUEUE; default priority):")?;
    let mut t = table();
    t.set_header(vec!["QUEUE", "PLUGIN", "DESCRIPTION"]);
    for (name, plugin, description) in plugins::QUEUE_ORDERS {
        t.add_row(vec![name, plugin, description]);
    }
    write_rows(&mut out, t)
}
