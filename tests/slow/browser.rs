//! The appeals officer's pages in headless Chromium (Debian's `chromium` and `chromium-driver`,
//! which `.ci/run` installs), driven over WebDriver by fantoccini. An officer logs in, finds a
//! person, opens the timeline, files an appeal, has the registries asked afresh, overturns the
//! removal and sees the reinstatement, in Kazakh and then in Russian, and reads the dashboard.
//! A screenshot of each page is kept under `target/browser-screenshots/`.

use crate::common::scenario::{complete, iin_for, run_fixture};
use crate::common::{Backend, Place};
use fantoccini::{Client, ClientBuilder, Locator};
use housing_ledger::api::AppState;
use housing_ledger::app;
use housing_ledger::auth::{issue_token, Role};
use housing_ledger::registry::fixture::Fixture;
use housing_ledger::registry::sim::FixtureRegistries;
use housing_ledger::registry::{TrustedKeys, DEFAULT_SIM_SEED};
use housing_ledger::rules::Procedure;
use housing_ledger::web::i18n::{t, Lang};
use serde_json::{json, Value};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn start_driver() -> (Driver, u16) {
    assert!(
        Path::new(CHROMEDRIVER).exists() && Path::new(CHROMIUM).exists(),
        "\n\n*** {CHROMIUM} and {CHROMEDRIVER} are needed for the browser tests. ***\n*** Install them (apt-get install chromium chromium-driver) or run .ci/run, which does. ***\n"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("chromedriver starts");
    let driver = Driver(child);
    let start = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "chromedriver did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
    (driver, port)
}

async fn browser(port: u16, profile: &Path) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({"binary": CHROMIUM, "args": [
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage", "--window-size=1280,2200",
            format!("--user-data-dir={}", profile.display())
        ]}),
    );
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector).capabilities(caps).connect(&format!("http://127.0.0.1:{port}")).await.expect("a WebDriver session opens")
}

fn shots_dir() -> PathBuf {
    let dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target"))
        .join("browser-screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    assert!(png.starts_with(b"\x89PNG"), "{name}: a PNG");
    std::fs::write(shots_dir().join(format!("{name}.png")), png).unwrap();
}

/// The text of an element; if there is none, fails showing the page's error or its source.
async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap(),
        Err(e) => {
            let page = c.source().await.unwrap_or_default();
            let shown = page.split("id=\"error\"").nth(1).map(|s| s.chars().take(400).collect::<String>()).unwrap_or(page);
            panic!("{css}: {e}\non {}: {shown}", c.current_url().await.map(|u| u.to_string()).unwrap_or_default())
        }
    }
}

async fn fill(c: &Client, css: &str, value: &str) {
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).send_keys(value).await.unwrap();
}

/// Clicks what loads a new page, and waits until the old page is gone (a form's submission
/// may return before the browser has navigated).
async fn click(c: &Client, css: &str) {
    let old = c.find(Locator::Css("html")).await.unwrap();
    c.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}")).click().await.unwrap();
    let start = Instant::now();
    while old.tag_name().await.is_ok() {
        assert!(start.elapsed() < Duration::from_secs(20), "{css}: no new page after the click");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    c.wait().for_element(Locator::Css("body")).await.unwrap();
}

/// Serves `state` on a port of its own and opens a browser: the address, the driver and the
/// browser's profile (kept while the test runs), and the browser.
async fn serve_and_browse(state: AppState) -> (String, Driver, tempfile::TempDir, Client) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app(state)).await });
    let (driver, port) = start_driver();
    let profile = tempfile::tempdir().unwrap();
    let c = browser(port, profile.path()).await;
    (base, driver, profile, c)
}

fn contract() -> Value {
    json!({"privatization_contracts": [{"number": "П-1", "date": "2005-04-01", "address": "Астана, ул. Абая 1"}]})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn officer_overturns_a_removal_in_the_browser() {
    // Two persons removed on a privatization contract. ГосРеестр later corrects its record of
    // the first: the registries the server asks afresh hold the corrected data.
    let case = |corrected: bool| {
        let mut gos = serde_json::Map::new();
        if !corrected {
            gos.insert("@Web".into(), contract());
        }
        gos.insert("@Other".into(), contract());
        json!({"entries": [{"iin": "@Web"}, {"iin": "@Other"}], "registries": {"gosreestr": gos}})
    };
    let parse = |v: Value| Fixture::parse("browser", &complete(Procedure::RegistryRemoval, v).0.to_string()).unwrap();
    let place = Place::new(Backend::Sqlite, None);
    let ledger = Arc::new(place.ledger().await);
    run_fixture(&ledger, parse(case(false))).await;
    let officer =
        issue_token(ledger.store().as_ref(), Role::AppealsOfficer, "Капитан Ахметова", &crate::common::scenario::iin_for("Officer1")).await.unwrap().0;
    let state = AppState::new(ledger, TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED))
        .with_registries(Arc::new(FixtureRegistries::new(parse(case(true)), DEFAULT_SIM_SEED)));
    let (base, _driver, _profile, c) = serve_and_browse(state).await;
    let kk = |k: &str| t(Lang::Kk, k);
    let iin = iin_for("Web");

    // Not logged in: the login page.
    c.goto(&format!("{base}/ui")).await.unwrap();
    assert!(c.current_url().await.unwrap().path().ends_with("/ui/login"));
    shot(&c, "01-login").await;
    fill(&c, "#token", "hl_wrong_token").await;
    click(&c, "#login").await;
    assert_eq!(text(&c, "#error").await, kk("bad_token"), "a wrong token is refused");
    fill(&c, "#token", &officer).await;
    click(&c, "#login").await;

    // Search by IIN; a malformed one is refused, naming the check.
    shot(&c, "02-search").await;
    fill(&c, "#iin", "850101300001").await;
    click(&c, "#find").await;
    assert!(text(&c, "#error").await.contains("check digit"), "a bad IIN names the failed check");
    c.goto(&format!("{base}/ui")).await.unwrap();
    fill(&c, "#iin", &iin).await;
    click(&c, "#find").await;

    // The case and its timeline: every signature and inclusion proof verifies.
    assert_eq!(text(&c, "#status-registry_removal").await, kk("removed"));
    let rows = c.find_all(Locator::Css("#timeline tr.event")).await.unwrap();
    assert!(rows.len() >= 10, "the timeline shows the person's events: {}", rows.len());
    assert!(c.find_all(Locator::Css("#timeline .bad")).await.unwrap().is_empty(), "nothing fails to verify");
    let verified = c.find_all(Locator::Css("#timeline .check .ok")).await.unwrap().len();
    assert!(verified >= 2 * rows.len(), "each event shows its signature and inclusion verified ({verified} marks for {} events)", rows.len());
    let mut answers = Vec::new();
    for row in c.find_all(Locator::Css("#timeline tr.event[data-type=RegistryResponded]")).await.unwrap() {
        answers.push(row.text().await.unwrap());
    }
    assert!(
        answers.iter().any(|a| a.contains(&kk("gosreestr")) && a.contains(&kk("privatization_contracts")) && a.contains("П-1")),
        "answers read in Kazakh: {answers:?}"
    );
    shot(&c, "03-case-timeline").await;

    // File the appeal, with the removal suspended.
    fill(&c, "#grounds", "Жекешелендіру шарты маған тиесілі емес").await;
    c.find(Locator::Css("#suspend_on_file")).await.unwrap().click().await.unwrap();
    click(&c, "#file-appeal").await;
    assert!(text(&c, "#flash").await.contains(&kk("AppealFiled")));
    assert_eq!(text(&c, "#appeal-state-registry_removal").await, kk("filed"));
    shot(&c, "04-appeal-filed").await;

    // Ask the registries afresh: ГосРеестр no longer shows the contract.
    click(&c, "#recheck").await;
    assert!(text(&c, "#flash").await.contains(&kk("clear")), "the re-check is clear");
    shot(&c, "05-rechecked").await;

    // Overturn: reinstated with the original queue number and date; the notice goes out.
    fill(&c, "#reason", "ГосРеестр түзетті / ГосРеестр исправил запись").await;
    click(&c, "#overturn").await;
    assert_eq!(text(&c, "#status-registry_removal").await, kk("retained"));
    assert_eq!(text(&c, "#appeal-outcome-registry_removal").await, format!("{} — Капитан Ахметова", kk("overturned")));
    let reinstated = text(&c, "#reinstated-registry_removal").await;
    assert!(reinstated.contains("1000") && reinstated.contains("2019-03-01"), "{reinstated}");
    let notices = c.find_all(Locator::Css("#timeline tr.event[data-type=NoticeIssued]")).await.unwrap();
    assert_eq!(notices.len(), 2, "the notice of removal, then the notice of reinstatement");
    let notice = notices[1].text().await.unwrap();
    assert!(notice.contains("қалпына келтірілдіңіз"), "the notice of reinstatement, in Kazakh: {notice}");
    shot(&c, "06-reinstated-kk").await;

    // The same page in Russian.
    click(&c, "#lang-ru").await;
    assert_eq!(text(&c, "#status-registry_removal").await, t(Lang::Ru, "retained"));
    assert!(text(&c, "#timeline").await.contains("Ответ реестра"));
    shot(&c, "07-reinstated-ru").await;

    // The dashboard: two removals, one reversed on appeal.
    click(&c, "#nav-dashboard").await;
    assert_eq!(text(&c, "#total-removals").await, "2");
    assert_eq!(text(&c, "#share-reversed").await, "50.0%");
    assert_eq!(c.find_all(Locator::Css("svg#chart-ground rect")).await.unwrap().len(), 2, "one ground, drawn with its reversed part");
    shot(&c, "08-dashboard").await;
    c.close().await.unwrap();
}

/// The public register in Chromium, with no login: both languages, and no IIN or name of
/// anyone on the page as the browser shows it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_register_in_the_browser() {
    use crate::common::scenario::{assert_no_personal_data, register_world};
    let place = Place::new(Backend::Sqlite, None);
    let (ledger, names) = register_world(&place).await;
    let (base, _driver, _profile, c) = serve_and_browse(AppState::new(ledger, TrustedKeys::from_sim_seed(DEFAULT_SIM_SEED))).await;

    c.goto(&format!("{base}/register")).await.unwrap();
    assert!(text(&c, "h1").await.contains(&t(Lang::Kk, "reg_title")));
    assert!(text(&c, "#procedure-registry_removal h2").await.contains(&t(Lang::Kk, "registry_removal")));
    assert!(text(&c, "#procedure-registry_removal").await.contains("000:6"), "each step with its clause");
    assert_no_personal_data(&c.source().await.unwrap(), &names);
    assert_no_personal_data(&text(&c, "body").await, &names);
    shot(&c, "20-register-kk").await;

    click(&c, "#lang-ru").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/register"), "the language is switched on the register itself");
    assert!(text(&c, "h1").await.contains(&t(Lang::Ru, "reg_title")));
    assert!(text(&c, "#procedure-registry_removal").await.contains(&t(Lang::Ru, "reg_suppressed")), "a suppressed cell says so");
    assert_no_personal_data(&c.source().await.unwrap(), &names);
    assert_no_personal_data(&text(&c, "body").await, &names);
    shot(&c, "21-register-ru").await;
    c.close().await.unwrap();
}
