//! `make bench-init`: cold start of a function binary, measured the way Lambda sees it:
//! from process start to its first `GET /2018-06-01/runtime/invocation/next` on a local
//! Runtime API. Every binary named on the command line is started `runs` times, the binaries
//! taking turns (so a noisy moment hits them alike), each against the same fake Runtime API
//! that never answers; the process is killed once it has asked. The first binary is the
//! baseline (the hello-world `lambda_http` function in `functions/examples/hello.rs`), and
//! each other binary's median is reported as a multiple of it.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;

/// Start each binary `runs` times and print start-to-first-poll figures.
pub async fn init(binaries: &[PathBuf], runs: usize, env: &BTreeMap<String, String>) -> Result<()> {
    if binaries.len() < 2 {
        bail!("usage: bench init <baseline binary> <binary>... [--runs N]");
    }
    for binary in binaries {
        if !binary.is_file() {
            bail!(
                "{} is not built (make bench-init builds it)",
                binary.display()
            );
        }
    }
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let api = listener.local_addr()?.to_string();
    let (polled, mut polls) = mpsc::unbounded_channel::<Instant>();
    tokio::spawn(serve_runtime_api(listener, polled));

    let mut samples: Vec<Vec<Duration>> = vec![Vec::with_capacity(runs); binaries.len()];
    // One unmeasured start each first: the page cache, not the binary, would be measured.
    for round in 0..=runs {
        for (i, binary) in binaries.iter().enumerate() {
            let elapsed = start_once(binary, &api, env, &mut polls).await?;
            if round > 0 {
                samples[i].push(elapsed);
            }
        }
    }

    println!("cold start: process start -> first GET /runtime/invocation/next ({runs} runs each, release profile)");
    println!(
        "{:<24} {:>9} {:>9} {:>9} {:>9}",
        "binary", "min ms", "p50 ms", "p90 ms", "x p50"
    );
    let baseline = median(&mut samples[0].clone());
    for (binary, runs) in binaries.iter().zip(samples.iter_mut()) {
        runs.sort();
        let p50 = median(runs);
        let name = binary
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        println!(
            "{:<24} {:>9.2} {:>9.2} {:>9.2} {:>9.2}",
            name,
            ms(runs[0]),
            ms(p50),
            ms(runs[(runs.len() * 9 / 10).min(runs.len() - 1)]),
            p50.as_secs_f64() / baseline.as_secs_f64()
        );
    }
    Ok(())
}

/// One cold start: spawn, wait for the first poll (10 s at most), kill.
async fn start_once(
    binary: &PathBuf,
    api: &str,
    env: &BTreeMap<String, String>,
    polls: &mut mpsc::UnboundedReceiver<Instant>,
) -> Result<Duration> {
    let name = binary
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let started = Instant::now();
    let mut child = tokio::process::Command::new(binary)
        .envs(env)
        .env("AWS_LAMBDA_RUNTIME_API", api)
        .env("AWS_LAMBDA_FUNCTION_NAME", &name)
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench-init")
        .env("AWS_LAMBDA_LOG_GROUP_NAME", "bench-init")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("starting {}", binary.display()))?;
    let first = tokio::select! {
        at = polls.recv() => at.ok_or_else(|| anyhow!("runtime API stopped"))?,
        exit = child.wait() => {
            let out = child.wait_with_output().await.ok();
            let err = out.map(|o| String::from_utf8_lossy(&o.stderr).into_owned()).unwrap_or_default();
            bail!("{name} exited before polling ({exit:?}): {err}");
        }
        _ = tokio::time::sleep(Duration::from_secs(10)) => bail!("{name} did not poll within 10 s"),
    };
    child.kill().await.ok();
    // A poll that raced a previous kill cannot be this run's: it was sent before `started`.
    while polls.try_recv().is_ok() {}
    Ok(first.saturating_duration_since(started))
}

/// A Runtime API that notes when `invocation/next` is asked for and never hands out work.
async fn serve_runtime_api(listener: TcpListener, polled: mpsc::UnboundedSender<Instant>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let polled = polled.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let polled = polled.clone();
                async move {
                    if req.uri().path().ends_with("/runtime/invocation/next") {
                        let _ = polled.send(Instant::now());
                        // Hold the request open: the process is killed while it waits.
                        std::future::pending::<()>().await;
                    }
                    Ok::<_, Infallible>(hyper::Response::new(Full::new(Bytes::new())))
                }
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

fn median(sorted_or_not: &mut [Duration]) -> Duration {
    sorted_or_not.sort();
    sorted_or_not[sorted_or_not.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
