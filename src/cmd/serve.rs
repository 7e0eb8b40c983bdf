//! `serve`: the API and the pages, with the maintenance the server does by itself.

use super::*;

/// `serve`.
pub(crate) async fn serve(g: &Global, a: ServeArgs) -> anyhow::Result<std::process::ExitCode> {
    let ServeArgs {
        listen,
        registries,
        registry_timeout_ms,
        answer_limits,
        header_timeout_ms,
        request_timeout_ms,
        max_connections,
        max_connections_per_client,
        first_byte_timeout_ms,
        public_url,
        session_idle_minutes,
        session_hours,
        checkpoint_events,
        checkpoint_seconds,
        integrity_check_minutes,
        retention_rules,
        no_retention,
    } = a;
    if checkpoint_events == 0 || checkpoint_seconds == 0 {
        bail!("--checkpoint-events and --checkpoint-seconds must be at least 1");
    }
    let ledger = g.loc.ledger().await?;
    let cp = ledger.checkpoint().await?;
    tracing::info!(tree_size = cp.tree_size, "checkpoint signed");
    // No stored row that the events do not give is served: checked before listening.
    let restored = housing_ledger::read_models::restore_from_events(&ledger).await?;
    tracing::info!(restored, "read models checked against the events");
    let sessions = housing_ledger::web::session::SessionPolicy {
        idle: Duration::from_secs(session_idle_minutes.max(1) * 60),
        absolute: Duration::from_secs(session_hours.max(1) * 3600),
        public_url: public_url.map(|u| u.trim_end_matches('/').to_string()),
    };
    // Without a trust list no new source answer (a correction, an acknowledgement) is accepted,
    // and the pages check the answers against the list a simulation in this data directory
    // wrote down (`trust.json`), unpinned, or against none: serving derives no key from a seed.
    let trust = match g.trust.clone() {
        Some(t) => t,
        None => {
            tracing::warn!("no --trust: this server accepts no correction and no reinstatement acknowledgement");
            simulations_trust(&g.loc.data_dir)?
        }
    };
    let policy = housing_ledger::state::CheckpointPolicy { every_events: checkpoint_events, every: Duration::from_secs(checkpoint_seconds) };
    let mut state = AppState::new(ledger, trust.clone())
        .with_sessions(sessions)
        .with_checkpoints(policy)
        .with_integrity_check(Duration::from_secs(integrity_check_minutes.max(1) * 60));
    if let Some(spec) = registries {
        state = state.with_registries(registries_from(&spec, g, registry_timeout_ms, &answer_limits, &trust)?);
    }
    if !no_retention {
        let rules = match &retention_rules {
            Some(p) => housing_ledger::retention::RetentionRules::parse(&std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?)
                .map_err(anyhow::Error::msg)?,
            None => housing_ledger::retention::RetentionRules::built_in(),
        };
        state = state.with_retention(rules);
    }
    let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
    // Before the address is announced: see server::stop_signal.
    let stop = housing_ledger::server::stop_signal();
    println!("serving on http://{}", listener.local_addr()?);
    let limits = housing_ledger::server::Limits {
        header_read: Duration::from_millis(header_timeout_ms),
        request: Duration::from_millis(request_timeout_ms),
        max_connections,
        per_client: max_connections_per_client,
        first_byte: Duration::from_millis(first_byte_timeout_ms),
        ..Default::default()
    };
    use housing_ledger::security::{record, Kind, Record};
    housing_ledger::security::init_subject_key(state.ledger.subject_ref_key());
    let witnesses = state.ledger.witnesses().map_or(0, |w| w.witnesses.len());
    record(Record::new(
        Kind::ServiceStart,
        format!(
            "serving on {}: sources {}, trust list {:?}, {witnesses} witness(es), limits {limits:?}",
            listener.local_addr()?,
            state.registries.as_ref().map_or("none".to_string(), |r| r.describe()),
            state.registry_keys.basis
        ),
    ));
    let background = state.background.clone();
    housing_ledger::server::serve(listener, app(state), limits, stop).await?;
    background.shutdown().await;
    record(Record::new(Kind::ServiceStop, "stopped"));
    tracing::info!("stopped");
    Ok(std::process::ExitCode::SUCCESS)
}

/// The trust list a simulation without `--trust` wrote to `DATA_DIR/trust.json`
/// (`write_sim_trust`), marked unpinned; an empty one where none was written.
fn simulations_trust(data_dir: &std::path::Path) -> anyhow::Result<TrustedKeys> {
    let path = data_dir.join("trust.json");
    let list = match path.exists() {
        true => TrustedKeys::load(&path).with_context(|| format!("{}", path.display()))?,
        false => TrustedKeys::default(),
    };
    Ok(list.with_basis(TrustBasis::Unpinned))
}
