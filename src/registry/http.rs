//! Registries over HTTP: the client adapter with a deadline per request, bounded retries with
//! exponential backoff for transient faults, and request ids; and the bodies it exchanges, which
//! the `registry-sim` server (`devtools::sim_http`) answers.

use super::{DeliveryFault, Registries, RegistryFault, Reinstatement, SignedAnswer};
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueryBody {
    pub subjects: Vec<String>,
    /// The fields asked for (decision 14); the answer holds no other.
    pub fields: Vec<String>,
    pub request_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DecisionsBody {
    pub subjects: Vec<String>,
    pub request_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReinstateBody {
    pub reinstatement: Reinstatement,
    pub request_id: String,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrectionsBody {
    pub appeal: String,
    pub subjects: Vec<String>,
}

/// The corrections pending about some persons.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Corrections {
    pub corrections: Vec<SignedAnswer>,
}

/// A source owner's correction, issued to the simulator (`POST /v1/corrections`).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewCorrection {
    pub registry: String,
    pub iin: String,
    /// The corrected record; `null` when the registry now holds nothing on him.
    pub record: serde_json::Value,
}

#[derive(Serialize, Deserialize)]
pub struct ListBody {
    pub page: u64,
    pub request_id: String,
}

#[derive(Serialize, Deserialize)]
pub struct NoticeBody {
    pub notice: String,
    pub iin: String,
    pub attempt: u32,
}

/// Client settings.
#[derive(Clone, Debug)]
pub struct HttpSettings {
    pub deadline: Duration,
    pub retries: u32,
    pub backoff: Duration,
    /// The largest answer taken from each source.
    pub limits: AnswerLimits,
}

impl Default for HttpSettings {
    fn default() -> Self {
        Self { deadline: Duration::from_secs(5), retries: 2, backoff: Duration::from_millis(200), limits: AnswerLimits::default() }
    }
}

/// The largest answer taken from a source, by what it serves: a registry (`gbd_fl`, ...),
/// `lists`, `decisions`, `reinstatements`, `corrections` or `notices`. Larger is `malformed`
/// (decision 6), refused before it is held whole (issue 35, F11).
#[derive(Clone, Debug)]
pub struct AnswerLimits {
    pub default: usize,
    pub by_source: std::collections::BTreeMap<String, usize>,
}

impl Default for AnswerLimits {
    /// 16 MiB for an answer (a list page of thousands of entries fits many times over); 1 MiB
    /// for a notice's receipt.
    fn default() -> Self {
        Self { default: 16 << 20, by_source: [("notices".to_string(), 1 << 20)].into() }
    }
}

impl AnswerLimits {
    /// Adds `SOURCE=BYTES` settings (`--answer-limit`).
    pub fn with(mut self, settings: &[String]) -> Result<Self, super::SettingError> {
        use super::SettingError;
        for s in settings {
            let (source, bytes) = s.split_once('=').ok_or_else(|| SettingError::Form { option: "--answer-limit", form: "SOURCE=BYTES", given: s.clone() })?;
            let bytes: usize = bytes.trim().parse().ok().filter(|b| *b > 0).ok_or_else(|| SettingError::NotPositive {
                option: "--answer-limit",
                name: source.into(),
                given: bytes.into(),
            })?;
            self.by_source.insert(source.trim().to_string(), bytes);
        }
        Ok(self)
    }

    pub fn of(&self, source: &str) -> usize {
        self.by_source.get(source).copied().unwrap_or(self.default)
    }
}

pub struct HttpRegistries {
    base: String,
    client: reqwest::Client,
    settings: HttpSettings,
    name: Option<String>,
    simulator: bool,
}

impl HttpRegistries {
    pub fn new(base: &str, settings: HttpSettings) -> Self {
        let client = reqwest::Client::builder().timeout(settings.deadline).build().expect("HTTP client builds");
        Self { base: base.trim_end_matches('/').to_string(), client, settings, name: None, simulator: false }
    }

    /// Declares the other end a simulator (`demo`'s own `registry-sim`), not a live gateway.
    pub fn simulator(mut self) -> Self {
        self.simulator = true;
        self
    }

    /// Names the source by what it serves rather than where (a run's identity includes it).
    pub fn named(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }

    async fn post_once<B: Serialize, T: serde::de::DeserializeOwned>(&self, source: &str, path: &str, body: &B) -> Result<T, RegistryFault> {
        let url = format!("{}{path}", self.base);
        let resp = self.client.post(&url).json(body).send().await.map_err(|e| {
            if e.is_timeout() {
                RegistryFault::Timeout(format!("no answer from {url} within {:?}", self.settings.deadline))
            } else {
                RegistryFault::Unavailable(format!("{url}: {e}"))
            }
        })?;
        let status = resp.status();
        let max = self.settings.limits.of(source);
        let bytes = crate::bounded::read(resp, max).await.map_err(|e| match e {
            crate::bounded::BodyError::TooLarge { max } => {
                RegistryFault::Malformed(format!("{url}: the answer is larger than {max} bytes, the limit for {source}"))
            }
            crate::bounded::BodyError::Read(e) if e.is_timeout() => RegistryFault::Timeout(format!("{url}: body not received within the deadline")),
            crate::bounded::BodyError::Read(e) => RegistryFault::Unavailable(e.to_string()),
        })?;
        if !status.is_success() {
            return Err(RegistryFault::Unavailable(format!("{url} answered {status}")));
        }
        serde_json::from_slice(&bytes).map_err(|e| RegistryFault::Malformed(format!("{url}: the body is not the answer asked for: {e}")))
    }

    /// Retries transient faults with exponential backoff; the request id stays the same, so a
    /// source can answer a repeated request idempotently.
    async fn post<B: Serialize, T: serde::de::DeserializeOwned>(&self, source: &str, path: &str, body: &B) -> Result<T, RegistryFault> {
        let mut attempt = 0;
        loop {
            match self.post_once(source, path, body).await {
                Err(e) if e.transient() && attempt < self.settings.retries => {
                    tokio::time::sleep(self.settings.backoff * 2u32.pow(attempt)).await;
                    attempt += 1;
                }
                Err(e) => {
                    let tries = attempt + 1;
                    return Err(match e {
                        RegistryFault::Unavailable(d) => RegistryFault::Unavailable(format!("{d} (after {tries} attempts)")),
                        RegistryFault::Timeout(d) => RegistryFault::Timeout(format!("{d} (after {tries} attempts)")),
                        other => other,
                    });
                }
                ok => return ok,
            }
        }
    }
}

#[async_trait]
impl Registries for HttpRegistries {
    async fn list_page(&self, procedure: Procedure, page: u64, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        self.post("lists", &format!("/v1/lists/{procedure}"), &ListBody { page, request_id: request_id.into() }).await
    }

    async fn query(&self, registry: RegistryId, subjects: &[String], fields: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let body = QueryBody { subjects: subjects.to_vec(), fields: fields.to_vec(), request_id: request_id.into() };
        self.post(registry.as_str(), &format!("/v1/registries/{registry}/query"), &body).await
    }

    async fn decisions(&self, procedure: Procedure, iins: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        self.post("decisions", &format!("/v1/decisions/{procedure}"), &DecisionsBody { subjects: iins.to_vec(), request_id: request_id.into() }).await
    }

    async fn reinstate(&self, r: &Reinstatement, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        self.post("reinstatements", "/v1/reinstatements", &ReinstateBody { reinstatement: r.clone(), request_id: request_id.into() }).await
    }

    async fn corrections(&self, appeal: &str, subjects: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        let pending: Corrections =
            self.post("corrections", "/v1/corrections/pending", &CorrectionsBody { appeal: appeal.into(), subjects: subjects.to_vec() }).await?;
        Ok(pending.corrections)
    }

    async fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, DeliveryFault> {
        let url = format!("{}/v1/notices", self.base);
        let unreachable = |e: &dyn std::fmt::Display| DeliveryFault::Unreachable(format!("{url}: {e}"));
        let resp = self.client.post(&url).json(&NoticeBody { notice: notice.into(), iin: iin.into(), attempt }).send().await.map_err(|e| unreachable(&e))?;
        let status = resp.status();
        let body = crate::bounded::read(resp, self.settings.limits.of("notices")).await.map_err(|e| unreachable(&e))?;
        let body: serde_json::Value = serde_json::from_slice(&body).map_err(|e| unreachable(&e))?;
        // The receipt or the refusal goes into the ledger: cut to a stated size.
        if status.is_success() {
            Ok(crate::bounded::for_ledger(body["receipt"].as_str().unwrap_or("delivered")))
        } else {
            Err(DeliveryFault::Refused(crate::bounded::for_ledger(
                &body["error"].as_str().map(String::from).unwrap_or_else(|| format!("{url} answered {status}")),
            )))
        }
    }

    fn describe(&self) -> String {
        self.name.clone().unwrap_or_else(|| format!("http:{}", self.base))
    }

    fn is_live(&self) -> bool {
        !self.simulator
    }
}
