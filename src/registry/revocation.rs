//! Revocation evidence obtained on receipt (`docs/sources.md`): an answer signed under the
//! national PKI that arrives without `source_revocation` gets the OCSP response of its signer's
//! certificate, asked of the responder the certificate names (authority information access)
//! or the trust list's entry names (`ocsp`); where neither names one, the issuing CA's CRL from
//! the certificate's distribution point. It is kept in the answer, so that the check can be
//! repeated offline years later. The check itself is `TrustedKeys::check_source`'s.

use super::{Registries, RegistryFault, Reinstatement, SignedAnswer, TrustedKeys};
use crate::pki;
use crate::rules::records::RegistryId;
use crate::rules::Procedure;
use async_trait::async_trait;
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use events::catalogue::SourceRevocation;
use std::sync::Arc;
use std::time::Duration;

/// An OCSP response larger than this is refused unread.
const MAX_OCSP_BYTES: usize = 1 << 20;
/// A CRL lists every revoked certificate of its CA: larger, but bounded too.
const MAX_CRL_BYTES: usize = 32 << 20;

/// Any registries, their PKI-signed answers given their signer's OCSP response on receipt.
pub struct WithRevocation {
    inner: Arc<dyn Registries>,
    trust: TrustedKeys,
    client: reqwest::Client,
}

impl WithRevocation {
    pub fn new(inner: Arc<dyn Registries>, trust: TrustedKeys, timeout: Duration) -> Self {
        // No kept-alive connections: responders such as `openssl ocsp` close each one after answering.
        let client = reqwest::Client::builder().timeout(timeout).pool_max_idle_per_host(0).build().expect("HTTP client builds");
        Self { inner, trust, client }
    }

    /// Adds the signer's OCSP response to a PKI-signed answer that carries no evidence.
    pub async fn staple(&self, registry: RegistryId, mut signed: SignedAnswer) -> Result<SignedAnswer, RegistryFault> {
        let Some(chain) = signed.source_chain.as_deref().filter(|_| signed.source_revocation.is_none()) else { return Ok(signed) };
        // Malformed chains are left to the check, which names what is wrong.
        let Ok(chain) = pki::chain_from_base64(chain) else { return Ok(signed) };
        let Some(signer) = chain.first() else { return Ok(signed) };
        let cas: Vec<(&super::trust::TrustEntry, &x509_cert::Certificate)> = self
            .trust
            .sources
            .get(&registry)
            .into_iter()
            .flatten()
            .filter_map(|e| match &e.anchor {
                super::trust::Anchor::Ca(c) => Some((e, c.as_ref())),
                super::trust::Anchor::Key(_) => None,
            })
            .collect();
        let issuer = chain[1..].iter().chain(cas.iter().map(|(_, c)| *c)).find(|c| pki::issued_by(signer, c));
        let Some(issuer) = issuer else { return Ok(signed) };
        let ocsp = pki::ocsp_url(signer).or_else(|| cas.iter().find_map(|(e, _)| e.doc.ocsp.clone()));
        signed.source_revocation = Some(match (ocsp, pki::crl_url(signer)) {
            (Some(url), _) => {
                let request = pki::ocsp_request(signer, issuer).map_err(|e| RegistryFault::Malformed(format!("{registry}: OCSP request: {e}")))?;
                let req = self.client.post(&url).header("content-type", "application/ocsp-request").body(request);
                SourceRevocation::Ocsp(B64.encode(fetch(req, &url, MAX_OCSP_BYTES).await.map_err(|e| unavailable(registry, "the OCSP responder", &url, e))?))
            }
            (None, Some(url)) => SourceRevocation::Crl(
                B64.encode(fetch(self.client.get(&url), &url, MAX_CRL_BYTES).await.map_err(|e| unavailable(registry, "the CRL at", &url, e))?),
            ),
            (None, None) => {
                return Err(RegistryFault::Unavailable(format!(
                    "{registry}: the signer's certificate names no OCSP responder and no CRL, and the trust list gives no responder"
                )))
            }
        });
        Ok(signed)
    }
}

fn unavailable(registry: RegistryId, what: &str, url: &str, e: impl std::fmt::Display) -> RegistryFault {
    RegistryFault::Unavailable(format!("{registry}: {what} {url}: {e}"))
}

/// A revocation service that did not give its evidence.
#[derive(Debug, thiserror::Error)]
enum FetchError {
    #[error("{0}")]
    Send(reqwest::Error),
    #[error("answered {0}")]
    Status(reqwest::StatusCode),
    #[error("{url}: {error}")]
    Read { url: String, error: crate::bounded::BodyError },
}

/// The body of a successful answer to `req`, at most `max` bytes.
async fn fetch(req: reqwest::RequestBuilder, url: &str, max: usize) -> Result<Vec<u8>, FetchError> {
    let resp = req.send().await.map_err(FetchError::Send)?;
    if !resp.status().is_success() {
        return Err(FetchError::Status(resp.status()));
    }
    crate::bounded::read(resp, max).await.map_err(|error| FetchError::Read { url: url.into(), error })
}

#[async_trait]
impl Registries for WithRevocation {
    async fn list_page(&self, procedure: Procedure, page: u64, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let a = self.inner.list_page(procedure, page, request_id).await?;
        self.staple(RegistryId::IshAsMr, a).await
    }
    async fn query(&self, registry: RegistryId, subjects: &[String], fields: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let a = self.inner.query(registry, subjects, fields, request_id).await?;
        self.staple(registry, a).await
    }
    async fn decisions(&self, procedure: Procedure, iins: &[String], request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let a = self.inner.decisions(procedure, iins, request_id).await?;
        self.staple(RegistryId::IshAsMr, a).await
    }
    async fn deliver(&self, notice: &str, iin: &str, attempt: u32) -> Result<String, super::DeliveryFault> {
        self.inner.deliver(notice, iin, attempt).await
    }
    async fn reinstate(&self, r: &Reinstatement, request_id: &str) -> Result<SignedAnswer, RegistryFault> {
        let a = self.inner.reinstate(r, request_id).await?;
        self.staple(RegistryId::IshAsMr, a).await
    }
    async fn corrections(&self, appeal: &str, subjects: &[String]) -> Result<Vec<SignedAnswer>, RegistryFault> {
        let mut out = Vec::new();
        for a in self.inner.corrections(appeal, subjects).await? {
            let registry = a.answer["registry"].as_str().and_then(RegistryId::parse);
            out.push(match registry {
                Some(r) => self.staple(r, a).await?,
                None => a,
            });
        }
        Ok(out)
    }
    fn describe(&self) -> String {
        self.inner.describe()
    }
    fn is_live(&self) -> bool {
        self.inner.is_live()
    }
}
