//! The `weft` command: wires the crates together; no logic of its own beyond argument handling.

mod agent_args;
mod alloc;
mod logging;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: alloc::Allocator = alloc::Allocator;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(name = "weft", version, about = "Kafka-compatible streaming on object storage")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once at start-up; boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
enum Command {
    /// Run an agent: a Kafka listener backed by an object store and a metastore.
    Agent(agent_args::AgentArgs),
    /// Benchmark a Kafka-compatible cluster with a real client (librdkafka): phases, or scenarios with reports.
    Bench(weft_bench::BenchCommand),
    /// Recommend client and topic settings from a cluster's observed traffic (Kafka or Weft).
    Advise(weft_advise::AdviseArgs),
    /// Inspect and manage consumer groups on any Kafka-compatible cluster.
    Group(weft_admin::GroupArgs),
    /// Show the cluster: id, controller, brokers, topic and partition counts.
    Cluster(weft_admin::ClusterArgs),
    /// Create, list, describe, configure, grow and delete topics.
    Topic(weft_admin::TopicArgs),
    /// Produce records from stdin (lines or JSON) or from --value.
    Produce(weft_admin::ProduceArgs),
    /// Consume records to stdout, from any offset or time, alone or as a group member.
    Consume(weft_admin::ConsumeArgs),
    /// Show log start and end offsets per partition, and the offset for a time.
    Offsets(weft_admin::OffsetsArgs),
    /// Get broker configs; set or delete cluster-wide dynamic broker defaults.
    Config(weft_admin::ConfigArgs),
    /// Create, list and delete SASL users (SCRAM credentials), through a cluster or in a metastore.
    User(weft_admin::UserArgs),
    /// Set, list and remove client quotas (byte rates, request percentage) per user and client id.
    Quota(weft_admin::QuotaArgs),
    /// Add, list and remove ACLs (as kafka-acls.sh) on any Kafka-compatible cluster.
    Acl(weft_admin::AclArgs),
    /// Register, get, list, check and delete schemas, and set compatibility, on a Confluent-compatible registry.
    Schema(weft_admin::SchemaArgs),
    /// Plan capacity and monthly cost: Weft agents, object-store and metastore load, beside Apache Kafka.
    Plan(weft_plan::PlanArgs),
}

/// Keeps large buffers (segments, fetch responses) in the allocator's heap for reuse. By default glibc maps
/// each one afresh, and page faults plus page zeroing took a fifth of the agent's CPU when serving fetches
/// (see BENCHMARKS.md).
fn tune_allocator() {
    // SAFETY: mallopt only adjusts allocator parameters; it is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 512 << 20);
    }
}

fn main() -> ExitCode {
    tune_allocator();
    let cli = Cli::parse();
    // Client commands report failures themselves; librdkafka's own connection logs would only repeat them.
    logging::init(match cli.command {
        Command::Agent(_) => "info",
        _ => "warn,rdkafka=off,librdkafka=off",
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Agent(args) => agent_args::run(args).await,
            Command::Bench(mut command) => {
                if let Some(path) = &command.args.command_config {
                    command.args.command_config_properties = Some(weft_admin::read_properties(path)?);
                }
                weft_bench::run_command(command).await
            }
            Command::Advise(args) => weft_advise::run(args).await,
            Command::Group(args) => weft_admin::run_group(args).await,
            Command::Cluster(args) => weft_admin::run_cluster(args).await,
            Command::Topic(args) => weft_admin::run_topic(args).await,
            Command::Produce(args) => weft_admin::run_produce(args).await,
            Command::Consume(args) => weft_admin::run_consume(args).await,
            Command::Offsets(args) => weft_admin::run_offsets(args).await,
            Command::Config(args) => weft_admin::run_config(args).await,
            Command::User(args) => weft_admin::run_user(args).await,
            Command::Quota(args) => weft_admin::run_quota(args).await,
            Command::Acl(args) => weft_admin::run_acl(args).await,
            Command::Schema(args) => weft_admin::run_schema(args).await,
            Command::Plan(args) => weft_plan::run(args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
