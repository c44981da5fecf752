//! `with-engines -- COMMAND…`: runs COMMAND with a private PostgreSQL cluster and an
//! s3s-fs server up, named in its environment, and stops them after (whatever COMMAND
//! did). The test command uses it to run the end-to-end suite on shared storage:
//!
//! - `FEISHU_MEDIA_TEST_POSTGRES`: `postgres://postgres@127.0.0.1:PORT` (no database:
//!   each test server creates its own);
//! - `FEISHU_MEDIA_TEST_S3_ENDPOINT` and `FEISHU_MEDIA_TEST_S3_DIR`: the server, and the
//!   directory where a new bucket is a new subdirectory;
//! - `FEISHU_MEDIA_TEST_BACKEND=shared`: the testkit's default servers use them (and a
//!   Redis of their own for the limits).

use feishu_media_engines::{TestPostgres, TestS3};
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).skip_while(|a| a == "--").collect();
    let Some((program, rest)) = args.split_first() else {
        eprintln!("usage: with-engines -- COMMAND [ARGS…]");
        return ExitCode::from(2);
    };
    let pg = TestPostgres::start();
    let s3 = TestS3::start();
    let status = Command::new(program)
        .args(rest)
        .env("FEISHU_MEDIA_TEST_BACKEND", "shared")
        .env(
            "FEISHU_MEDIA_TEST_POSTGRES",
            format!("postgres://postgres@127.0.0.1:{}", pg.port),
        )
        .env("FEISHU_MEDIA_TEST_S3_ENDPOINT", s3.endpoint())
        .env("FEISHU_MEDIA_TEST_S3_DIR", s3.root())
        .status();
    drop((pg, s3));
    match status {
        Ok(s) if s.success() => ExitCode::SUCCESS,
        Ok(s) => ExitCode::from(s.code().unwrap_or(1).clamp(1, 255) as u8),
        Err(e) => {
            eprintln!("with-engines: {program}: {e}");
            ExitCode::from(127)
        }
    }
}
