//! `bench`: the figures of a run, the proof route and the raw signing rate, printed.

use super::demo::tempfile_dir;
use super::*;

/// `bench ...`.
pub(crate) async fn bench(g: &Global, command: BenchCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        BenchCommand::Api { persons, rate, seconds, keep, servers, no_replay } => {
            if servers == 0 {
                bail!("--servers must be at least 1");
            }
            let dir = match &keep {
                Some(d) => {
                    housing_ledger::private_files::create_dir(d)?;
                    d.clone()
                }
                None => tempfile_dir()?,
            };
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = devtools::bench::api_figures(&url, &dir, persons, rate, seconds, servers, !no_replay).await?;
            if let Some(b) = &f.built {
                print_run_figures(b);
            }
            match f.replay_per_s {
                Some(r) => println!("ledger: {} events; replay {r:.0} events/s", f.events),
                None => println!("ledger: {} events; not replayed (--no-replay)", f.events),
            }
            for l in &f.latencies {
                println!(
                    "GET {:<6} {} requests at {rate}/s (both routes together), {} errors: p50 {:.2} ms, p99 {:.2} ms",
                    l.route, l.requests, l.errors, l.p50_ms, l.p99_ms
                );
            }
            println!("requests per server: {:?}; peak RSS (KiB), this process then each server: {:?}", f.per_server, f.peak_rss_kib);
            let [cost, old] = &f.cost;
            println!(
                "reads: {} recorded in {} events; {:.0} bytes of events per read; database files grew {:.0} bytes per read",
                cost.reads, cost.events, cost.event_bytes_per_read, cost.file_bytes_per_read
            );
            println!(
                "  as before (one event per read, written after the load): {:.0} bytes of events per read; files grew {:.0} bytes per read; ratio now/before {:.2} (events), {:.2} (files)",
                old.event_bytes_per_read,
                old.file_bytes_per_read,
                cost.event_bytes_per_read / old.event_bytes_per_read.max(1.0),
                cost.file_bytes_per_read / old.file_bytes_per_read.max(1.0)
            );
            if keep.is_none() {
                let _ = std::fs::remove_dir_all(&dir);
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Run { persons } => {
            if persons < 2 {
                bail!("--persons must be at least 2");
            }
            let dir = tempfile_dir()?;
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = devtools::bench::run_figures(&url, &dir, persons).await?;
            print_run_figures(&f);
            let _ = std::fs::remove_dir_all(&dir);
            Ok(std::process::ExitCode::SUCCESS)
        }
        BenchCommand::Formats { persons, rounds } => formats(loc, persons, rounds).await,
        BenchCommand::Ledger { events, batch } => {
            if events == 0 || batch == 0 {
                bail!("--events and --batch must be positive");
            }
            let dir = tempfile_dir()?;
            let url = loc.database_url.clone().unwrap_or_else(|| format!("sqlite://{}", dir.join("bench.db").display()));
            let f = devtools::bench::ledger_figures(&url, &dir, events, batch, loc.tsa.clone()).await?;
            println!("raw Ed25519 signing, one core:          {:>10.0} signatures/s", f.raw_sign_per_s);
            println!("raw Ed25519 batch verification, one core:{:>10.0} signatures/s", f.raw_batch_verify_per_s);
            println!("append (sign + durable commit, batch {batch}): {:>10.0} events/s  ratio {:.2}", f.append_per_s, f.append_per_s / f.raw_sign_per_s);
            println!(
                "verify (whole ledger, {} events):      {:>10.0} events/s  ratio {:.2}",
                f.events,
                f.verify_per_s,
                f.verify_per_s / f.raw_batch_verify_per_s
            );
            let ((p50, max), (wp50, wmax)) = (devtools::bench::p50_max(&f.checkpoint_ms), devtools::bench::p50_max(&f.checkpoint_witnessed_ms));
            println!("checkpoint after 1,000 events, alone:            p50 {p50:.2} ms, max {max:.2} ms ({} rounds)", f.checkpoint_ms.len());
            println!("checkpoint with two local witnesses cosigning:   p50 {wp50:.2} ms, max {wmax:.2} ms ({} rounds)", f.checkpoint_witnessed_ms.len());
            if !f.checkpoint_timestamped_ms.is_empty() {
                let (tp50, tmax) = devtools::bench::p50_max(&f.checkpoint_timestamped_ms);
                println!("checkpoint time-stamped by the TSA given:        p50 {tp50:.2} ms, max {tmax:.2} ms ({} rounds)", f.checkpoint_timestamped_ms.len());
            }
            let _ = std::fs::remove_dir_all(&dir);
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `bench formats`: v2 against v1, round by round.
async fn formats(loc: &Location, persons: u64, rounds: usize) -> anyhow::Result<std::process::ExitCode> {
    if persons < 2 || rounds == 0 {
        bail!("--persons must be at least 2 and --rounds at least 1");
    }
    if loc.database_url.is_some() {
        bail!("bench formats starts a fresh ledger for every run: it runs on the embedded database only");
    }
    let fresh = || -> anyhow::Result<(String, std::path::PathBuf)> {
        let dir = tempfile_dir()?;
        Ok((format!("sqlite://{}", dir.join("bench.db").display()), dir))
    };
    let rounds = devtools::bench::format_rounds(persons, rounds, fresh).await?;
    let per_s = |f: &devtools::bench::RunFigures| f.events() as f64 / f.seconds();
    let mut ratios = Vec::new();
    println!("round  v1 events/s  v2 events/s  v2/v1   (both procedures, {persons} persons, a fresh ledger each)");
    for (i, (v1, v2)) in rounds.iter().enumerate() {
        let r = per_s(v2) / per_s(v1);
        ratios.push(r);
        println!("{:>5}  {:>11.0}  {:>11.0}  {r:.3}", i + 1, per_s(v1), per_s(v2));
    }
    let mean = ratios.iter().sum::<f64>() / ratios.len() as f64;
    println!(
        "v2/v1: median {:.3}, mean {mean:.3}, lowest {:.3}, highest {:.3}",
        devtools::bench::median(&ratios),
        ratios.iter().copied().fold(f64::INFINITY, f64::min),
        ratios.iter().copied().fold(0.0, f64::max)
    );
    Ok(std::process::ExitCode::SUCCESS)
}

/// What `bench run` measured (also `bench api`, where it built the ledger).
pub(crate) fn print_run_figures(f: &devtools::bench::RunFigures) {
    println!(
        "raw Ed25519 signing, one core: {:>10.0} signatures/s (before, between and after the procedures: {})",
        f.raw_sign_per_s(),
        f.raw_sign.iter().map(|r| format!("{r:.0}")).collect::<Vec<_>>().join(", ")
    );
    println!("persons:                       {:>10} (both procedures)", f.persons);
    println!("events:                        {:>10} in {:.1} s", f.events(), f.seconds());
    println!("persons per second:            {:>10.0}", f.persons as f64 / f.seconds());
    println!("events per second:             {:>10.0}  ratio to raw signing {:.2}", f.events() as f64 / f.seconds(), f.ratio());
    println!(
        "per procedure:                 ratio {} (against the raw signing either side of it)",
        f.procedure_ratios().iter().map(|r| format!("{r:.2}")).collect::<Vec<_>>().join(", ")
    );
    println!("peak RSS:                      {:>10} KiB", f.peak_rss_kib);
}
