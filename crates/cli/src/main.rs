//! The `feishu-media` binary: flags in, library calls out.
//!
//! Exit codes: 0 success; 1 a runtime failure (cannot bind, storage unusable, the
//! server cannot be reached); 2 bad usage (clap's own); 3 a manifest that was refused;
//! 4 the admin API refused a request; 5 some downloads, uploads or exports failed (each failure
//! was printed with its Feishu code and a hint).

mod admin;
mod export;
mod serve;
mod transfer;

use clap::{Parser, Subcommand};
use feishu_media_server::seed::SeedError;
use std::process::ExitCode;

#[derive(Parser)]
#[command(
    name = "feishu-media",
    version,
    about = "Feishu (Lark) Drive media API: server and tools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the media server.
    Serve(serve::ServeArgs),
    /// Steer a running server through its admin API (seed, reset, faults, objects).
    Admin(admin::AdminArgs),
    /// Download media by file token: parallel ranged chunks, resumable, within the quota.
    Download(transfer::DownloadArgs),
    /// Upload files (upload_all up to 20 MiB, chunked above) and print their tokens.
    Upload(transfer::UploadArgs),
    /// Save every image and attachment of docx, sheet or bitable documents, with a
    /// media.json of where each sits; run again, only what changed is fetched.
    Export(export::ExportArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    feishu_media_client::install_tls_provider();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        // File reads run on blocking threads, and each thread gets its own malloc arena:
        // an unbounded pool under many streams costs memory for no speed on few cores.
        .max_blocking_threads(32)
        // Poll for I/O after 400 tasks rather than 61: the connections already woken are
        // answered first, in order, before more wake-ups are taken in. At 1 024
        // connections (bench L, B1k's load) p99 went from 51-70 ms to 30-32 ms (nginx:
        // 28 ms), throughput unchanged; 8 made it worse (81-83 ms).
        .event_interval(400)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("feishu-media: cannot start the runtime: {e}");
            return ExitCode::from(1);
        }
    };
    let result = match cli.command {
        Command::Serve(args) => runtime.block_on(serve::run(args)),
        Command::Admin(args) => runtime.block_on(admin::run(args)),
        Command::Download(args) => runtime.block_on(transfer::download(args)),
        Command::Upload(args) => runtime.block_on(transfer::upload(args)),
        Command::Export(args) => runtime.block_on(export::run(args)),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("feishu-media: {e:#}");
            if e.downcast_ref::<SeedError>().is_some() {
                ExitCode::from(3)
            } else if e.downcast_ref::<admin::Refused>().is_some() {
                ExitCode::from(4)
            } else if e.downcast_ref::<transfer::SomeFailed>().is_some() {
                ExitCode::from(5)
            } else {
                ExitCode::from(1)
            }
        }
    }
}
