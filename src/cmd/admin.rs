//! The operator's commands: `ledger init`, `keys`, `token`, `checkpoint`, `witness`, `replay`,
//! `erase`, `retention` and `config check`.

use super::*;

/// The operator a token names, or why not.
pub(crate) async fn operator(ledger: &housing_ledger::ledger::Ledger, token: &str) -> anyhow::Result<housing_ledger::auth::Caller> {
    let caller = housing_ledger::auth::authenticate(ledger, token).await?.context("the token is not a valid, unrevoked, unexpired API token")?;
    anyhow::ensure!(caller.role == housing_ledger::auth::Role::Operator, "erasure is the operator's: the token's role is {}", caller.role);
    Ok(caller)
}

/// `ledger init`: starts a ledger, once.
pub(crate) async fn ledger_init(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    if loc.data_dir.join(housing_ledger::ledger::KEY_FILE).exists() {
        bail!("a ledger key already exists in {}: a ledger is started once", loc.data_dir.display());
    }
    let ledger = loc.ledger().await?;
    println!("started a ledger: {}", ledger.signer().verifier());
    Ok(std::process::ExitCode::SUCCESS)
}

/// `keys ...`.
pub(crate) async fn keys(g: &Global, command: KeysCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    match command {
        KeysCommand::Rotate { reason } => println!("{}", ledger.rotate_key(&reason).await?),
        KeysCommand::List => {
            for k in ledger.key_history().await?.all() {
                println!("{k}");
            }
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `token ...`.
pub(crate) async fn token(g: &Global, command: TokenCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        TokenCommand::List => {
            let ledger = loc.ledger().await?;
            println!("{:<14} {:<16} {:<24} {:<13} {:<25} {:<25} revoked", "id", "role", "holder", "holder IIN", "created", "expires");
            for t in ledger.access().tokens().await? {
                println!(
                    "{:<14} {:<16} {:<24} {:<13} {:<25} {:<25} {}",
                    t.id,
                    t.role,
                    t.holder,
                    t.holder_id,
                    t.created_at,
                    t.expires_at.as_deref().unwrap_or("never"),
                    t.revoked_at.as_deref().unwrap_or("-")
                );
            }
            Ok(std::process::ExitCode::SUCCESS)
        }
        TokenCommand::Revoke { id } => {
            let ledger = loc.ledger().await?;
            let now = housing_ledger::store::utc_millis(chrono::Utc::now());
            if !auth::revoke_token(&ledger, &id, &now).await? {
                bail!("no token {id:?} to revoke (unknown, or revoked before)");
            }
            eprintln!("token {id} revoked at {now}");
            Ok(std::process::ExitCode::SUCCESS)
        }
        TokenCommand::Create { role, holder, holder_id, expires } => {
            let expires_at = expires.as_deref().map(|e| auth::expiry(e, chrono::Utc::now())).transpose().map_err(anyhow::Error::msg)?;
            // Checked before the ledger is opened: a refused token touches nothing.
            if role == Role::AppealsOfficer && (holder.trim().is_empty() || holder_id.trim().is_empty()) {
                return Err(auth::TokenError::Unidentified.into());
            }
            if !holder_id.trim().is_empty() {
                housing_ledger::rules::iin::Iin::parse(holder_id.trim()).context("--holder-id")?;
            }
            let ledger = loc.ledger().await?;
            let (token, rec) = auth::issue_token_until(&ledger, role, &holder, &holder_id, expires_at).await?;
            eprintln!("token {} for role {} (shown once; only its hash is stored)", rec.id, rec.role);
            println!("{token}");
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `checkpoint`.
pub(crate) async fn checkpoint(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    let (cp, report) = ledger.checkpoint_cosigned().await?;
    print!("{}", housing_ledger::witness::cosigned_note(&ledger, &cp.note, cp.tree_size).await?);
    if loc.tsa.is_some() && ledger.checkpoints().timestamp(cp.tree_size).await?.is_none() {
        eprintln!(
            "warning: the checkpoint of tree size {} is UNTIMESTAMPED (the TSA did not answer with a valid token); it is asked again at the next checkpoint",
            cp.tree_size
        );
    }
    if let Some(r) = report {
        for (name, outcome) in &r.outcomes {
            eprintln!("witness {name}: {outcome:?}");
        }
        if !r.reached() {
            let missing: Vec<&str> = r.outcomes.iter().filter(|(_, o)| *o != housing_ledger::witness::Outcome::Cosigned).map(|(n, _)| n.as_str()).collect();
            eprintln!(
                "error: the checkpoint of tree size {} is cosigned by {} witnesses, fewer than the quorum {}; refused or failed: {}",
                r.tree_size,
                r.cosigned(),
                r.quorum,
                missing.join(", ")
            );
            return Ok(std::process::ExitCode::FAILURE);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `witness ...`.
pub(crate) async fn witness(g: &Global, command: WitnessCommand) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    match command {
        WitnessCommand::Vkey { name } => {
            println!("{}", housing_ledger::witness::witness_key(&loc.data_dir, &name)?.public());
            Ok(std::process::ExitCode::SUCCESS)
        }
        WitnessCommand::Serve { name, logs, listen } => {
            let logs = logs.iter().map(|k| events::VerifierKey::parse(k)).collect::<Result<Vec<_>, _>>().context("--log (a ledger verifier key)")?;
            let witness = Arc::new(housing_ledger::witness::Witness::open(&loc.data_dir, &name, logs)?);
            let listener = tokio::net::TcpListener::bind(&listen).await.with_context(|| format!("cannot listen on {listen}"))?;
            // Before the address is announced: see server::stop_signal.
            let stop = housing_ledger::server::stop_signal();
            println!("witness {} serving on http://{}", witness.key(), listener.local_addr()?);
            housing_ledger::server::serve(listener, housing_ledger::witness::router(witness), Default::default(), stop).await?;
            Ok(std::process::ExitCode::SUCCESS)
        }
    }
}

/// `replay`.
pub(crate) async fn replay(g: &Global) -> anyhow::Result<std::process::ExitCode> {
    let loc = &g.loc;
    let ledger = loc.ledger().await?;
    housing_ledger::read_models::catch_up(&ledger).await?;
    let r = housing_ledger::read_models::replay(&ledger).await?;
    println!("replayed {} events in {:.2} s ({:.0} events/s)", r.events, r.seconds, r.events as f64 / r.seconds.max(1e-9));
    if !r.differences.is_empty() {
        for (key, stored, rebuilt) in &r.differences {
            println!("DIFFERENT persons/{key}:\n  stored:  {}\n  rebuilt: {}", stored.as_deref().unwrap_or("(none)"), rebuilt.as_deref().unwrap_or("(none)"));
        }
        println!("{} rows differ", r.differences.len());
        return Ok(std::process::ExitCode::FAILURE);
    }
    println!("ok: the stored projections equal the ones rebuilt from events");
    Ok(std::process::ExitCode::SUCCESS)
}

/// `erase`.
pub(crate) async fn erase(g: &Global, a: EraseArgs) -> anyhow::Result<std::process::ExitCode> {
    let ledger = g.loc.ledger().await?;
    let caller = operator(&ledger, &a.token).await?;
    let by = format!("{} (token {})", caller.holder, caller.token_id);
    let done = housing_ledger::erasure::erase(&ledger, &a.iin, &a.reason, &a.basis, &by).await?;
    if a.json {
        println!("{}", serde_json::to_string(&done)?);
    } else if done.now {
        println!("erased {} (SubjectErased at seq {}): his data key is destroyed; the log and its proofs are whole", done.subject, done.seq);
    } else {
        println!("{} was erased before (SubjectErased at seq {}); what was left of it is done", done.subject, done.seq);
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `retention`.
pub(crate) async fn retention(g: &Global, a: RetentionArgs) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::retention::{self, RetentionRules};
    let rules = match &a.rules {
        Some(p) => RetentionRules::parse(&std::fs::read_to_string(p).with_context(|| format!("{}", p.display()))?).map_err(anyhow::Error::msg)?,
        None => RetentionRules::built_in(),
    };
    let today = match &a.today {
        Some(d) => chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").context("--today is YYYY-MM-DD")?,
        None => chrono::Utc::now().date_naive(),
    };
    let ledger = g.loc.ledger().await?;
    let caller = operator(&ledger, &a.token).await?;
    let unconfirmed: Vec<&String> = rules.kinds.iter().filter(|(_, p)| !p.confirmed).map(|(k, _)| k).collect();
    if !unconfirmed.is_empty() && !a.json {
        eprintln!(
            "warning: {} periods await the operator's legal service's confirmation: {}",
            rules.name(),
            unconfirmed.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
        );
    }
    if a.dry_run {
        let due = retention::due(&ledger, &rules, today).await?;
        if a.json {
            println!("{}", serde_json::json!({"rules": rules.name(), "today": today.to_string(), "dry_run": true, "due": due}));
        } else {
            println!("{} case(s) due on {today} under {} (nothing erased):", due.len(), rules.name());
            for d in &due {
                println!(
                    "  {} {} from seq {} ({}), due {}{}",
                    d.person,
                    d.kind,
                    d.from_seq,
                    d.from_time,
                    d.due_on,
                    if d.confirmed { "" } else { " [period unconfirmed]" }
                );
            }
        }
        return Ok(std::process::ExitCode::SUCCESS);
    }
    let by = format!("retention by {} (token {})", caller.holder, caller.token_id);
    let done = retention::apply(&ledger, &rules, today, &by).await?;
    if a.json {
        let erased: Vec<_> = done.iter().map(|(d, e)| serde_json::json!({"due": d, "erased": e})).collect();
        println!("{}", serde_json::json!({"rules": rules.name(), "today": today.to_string(), "dry_run": false, "erased": erased}));
    } else {
        println!("{} case(s) erased on {today} under {}:", done.len(), rules.name());
        for (d, e) in &done {
            println!("  {} {} (SubjectErased at seq {})", e.subject, d.kind, e.seq);
        }
    }
    Ok(std::process::ExitCode::SUCCESS)
}

/// `config check`: the effective configuration as TOML, secrets masked. Everything it names
/// was already read and checked (`run`: the trust list, the witnesses, the TSA's certificate).
pub(crate) fn config_check(g: &Global, file: Option<&std::path::Path>) -> anyhow::Result<std::process::ExitCode> {
    use housing_ledger::config::{mask_url, Config, WitnessEntry};
    let loc = &g.loc;
    let env = |name: &str| std::env::var(name).ok();
    let mut gateway = g.config.gateway.clone();
    gateway.sender = env("HOUSING_LEDGER_SHEP_SENDER").or(gateway.sender);
    gateway.session = env("HOUSING_LEDGER_SHEP_SESSION").map(|_| "****".into()).or(gateway.session.map(|_| "****".into()));
    gateway.certs = env("HOUSING_LEDGER_SHEP_CERTS").map(PathBuf::from).or(gateway.certs);
    let effective = Config {
        database_url: Some(mask_url(&loc.url())),
        data_dir: Some(loc.data_dir.clone()),
        origin: Some(loc.origin.clone()),
        trust: g.trust_path.clone(),
        registry_seed: None,
        witnesses: g
            .witness_flags
            .iter()
            .map(|w| {
                let (key, url) = w.split_once('=').map_or((w.as_str(), None), |(k, u)| (k, Some(u.to_string())));
                WitnessEntry { key: key.to_string(), url }
            })
            .collect(),
        witness_quorum: loc.witnesses.as_ref().map(|w| w.quorum),
        tsa: loc.tsa.as_ref().map(|t| t.url.clone()),
        tsa_cert: g.tsa_cert_path.clone(),
        security_log: g.security_log.clone(),
        security_log_format: Some(g.security_log_format.clone()),
        serve: g.config.serve.clone(),
        gateway,
    };
    match file {
        Some(f) => println!("# the effective configuration: {} with the flags and environment over it", f.display()),
        None => println!("# the effective configuration: no configuration file (--config or HOUSING_LEDGER_CONFIG); flags, environment and defaults"),
    }
    println!(
        "# secrets are masked; the gateway's password is read from HOUSING_LEDGER_SHEP_PASSWORD only ({})",
        if env("HOUSING_LEDGER_SHEP_PASSWORD").is_some() { "set" } else { "not set" }
    );
    print!("{}", toml::to_string(&effective).context("the configuration as TOML")?);
    Ok(std::process::ExitCode::SUCCESS)
}
