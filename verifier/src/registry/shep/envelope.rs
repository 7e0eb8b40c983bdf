//! The gateway's synchronous channel as bytes: the `SendMessage` request, and the
//! `SendMessageResponse` read back and bound to its request (`docs/sources.md`, "The government
//! gateway"). Namespace `http://bip.bee.kz/SyncChannel/v10/Types`; the elements under
//! `request` and `response` are unqualified, as in the channel's WSDL.

use super::json_xml::{self, escape};
use super::wsse::SOAP11;
use serde_json::Value;
use uppsala::{Document, NodeId};

pub const SYNC_TYPES: &str = "http://bip.bee.kz/SyncChannel/v10/Types";
/// The status code of a successful answer.
pub const SUCCESS: &str = "SCSS001";

/// A secret of the sender's (its password, a session id): never printed, logged or written.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(text: impl Into<String>) -> Self {
        Self(text.into())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The sender as the gateway knows it.
#[derive(Clone, Debug)]
pub struct Sender {
    pub sender_id: String,
    pub password: Secret,
    pub session_id: Option<Secret>,
}

/// What a request says of itself (`requestInfo`), the secrets apart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestInfo {
    pub message_id: String,
    pub service_id: String,
    /// RFC 3339.
    pub message_date: String,
}

/// A `SendMessage` request carrying `data` (as `fn:` JSON in XML).
pub fn request(info: &RequestInfo, sender: &Sender, data: &Value) -> String {
    let session = sender.session_id.as_ref().map(|s| format!("<sessionId>{}</sessionId>", escape(s.expose()))).unwrap_or_default();
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><typ:SendMessage xmlns:typ="{SYNC_TYPES}"><request><requestInfo><messageId>{}</messageId><serviceId>{}</serviceId><messageDate>{}</messageDate><sender><senderId>{}</senderId><password>{}</password></sender>{session}</requestInfo><requestData><data>{}</data></requestData></request></typ:SendMessage></soap:Body></soap:Envelope>
"#,
        escape(&info.message_id),
        escape(&info.service_id),
        escape(&info.message_date),
        escape(&sender.sender_id),
        escape(sender.password.expose()),
        json_xml::to_xml(data)
    )
}

/// A request as the gateway (the simulator) reads it.
#[derive(Clone, Debug, PartialEq)]
pub struct Request {
    pub info: RequestInfo,
    pub sender_id: String,
    pub data: Value,
}

/// What a response says of itself (`responseInfo`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResponseInfo {
    pub message_id: String,
    /// The `messageId` of the request answered.
    pub correlation_id: String,
    /// The service that answered.
    pub service_id: String,
    /// RFC 3339.
    pub response_date: String,
    pub status_code: String,
    pub status_message: String,
}

/// The children of a response's `soap:Body`: `SendMessageResponse` with `responseInfo` and,
/// on success, `responseData/data`.
pub fn response_body(info: &ResponseInfo, data: Option<&Value>) -> String {
    let data = data.map(|d| format!("<responseData><data>{}</data></responseData>", json_xml::to_xml(d))).unwrap_or_default();
    format!(
        r#"<typ:SendMessageResponse xmlns:typ="{SYNC_TYPES}"><response><responseInfo><messageId>{}</messageId><correlationId>{}</correlationId><serviceId>{}</serviceId><responseDate>{}</responseDate><status><code>{}</code><message>{}</message></status></responseInfo>{data}</response></typ:SendMessageResponse>"#,
        escape(&info.message_id),
        escape(&info.correlation_id),
        escape(&info.service_id),
        escape(&info.response_date),
        escape(&info.status_code),
        escape(&info.status_message),
    )
}

/// A SOAP 1.1 fault, as the gateway answers a request it could not route (unsigned).
pub fn fault(code: &str, text: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body><soap:Fault><faultcode>soap:{}</faultcode><faultstring>{}</faultstring></soap:Fault></soap:Body></soap:Envelope>
"#,
        escape(code),
        escape(text)
    )
}

/// Why a gateway message could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum EnvelopeError {
    #[error("the gateway answered with a SOAP fault: {code}: {text}")]
    Fault { code: String, text: String },
    #[error("the message is not the gateway's envelope: {0}")]
    Shape(String),
}

fn shape(why: impl Into<String>) -> EnvelopeError {
    EnvelopeError::Shape(why.into())
}

fn child(doc: &Document<'_>, node: NodeId, ns: Option<&str>, local: &str) -> Result<NodeId, EnvelopeError> {
    let found: Vec<NodeId> = doc.children(node).into_iter().filter(|c| doc.element(*c).is_some_and(|e| e.name.matches(ns, local))).collect();
    match found.as_slice() {
        [one] => Ok(*one),
        [] => Err(shape(format!("<{local}> is missing"))),
        _ => Err(shape(format!("<{local}> appears {} times", found.len()))),
    }
}

fn field(doc: &Document<'_>, node: NodeId, local: &str) -> Result<String, EnvelopeError> {
    Ok(doc.text_content_deep(child(doc, node, None, local)?).trim().to_string())
}

/// The one element child of `data`: the `fn:` value it carries.
fn data_value(doc: &Document<'_>, data: NodeId) -> Result<Value, EnvelopeError> {
    let items: Vec<NodeId> = doc.children(data).into_iter().filter(|c| doc.element(*c).is_some()).collect();
    let [value] = items.as_slice() else { return Err(shape(format!("<data> holds {} elements, not one", items.len()))) };
    json_xml::from_xml(doc, *value).map_err(|e| shape(format!("<data>: {e}")))
}

/// The body's one element child, after a SOAP fault is named.
fn operation(doc: &Document<'_>) -> Result<NodeId, EnvelopeError> {
    let envelope = doc
        .document_element()
        .filter(|e| doc.element(*e).is_some_and(|x| x.name.matches(Some(SOAP11), "Envelope")))
        .ok_or_else(|| shape("no SOAP 1.1 Envelope"))?;
    let body = child(doc, envelope, Some(SOAP11), "Body")?;
    let items: Vec<NodeId> = doc.children(body).into_iter().filter(|c| doc.element(*c).is_some()).collect();
    let [op] = items.as_slice() else { return Err(shape(format!("the Body holds {} elements, not one", items.len()))) };
    if doc.element(*op).is_some_and(|e| e.name.matches(Some(SOAP11), "Fault")) {
        let code = doc.text_content_deep(child(doc, *op, None, "faultcode")?).trim().to_string();
        let text = doc.get_elements_by_tag_name("faultstring").first().map(|n| doc.text_content_deep(*n).trim().to_string()).unwrap_or_default();
        return Err(EnvelopeError::Fault { code, text });
    }
    Ok(*op)
}

fn parse(text: &str) -> Result<Document<'_>, EnvelopeError> {
    super::parse(text).map_err(|e| match e {
        super::Unparsed::Doctype => shape("a DOCTYPE (no DTDs or entities in a SOAP message)"),
        super::Unparsed::NotXml(e) => shape(format!("not well-formed XML: {e}")),
    })
}

/// Reads a `SendMessage` request (the simulator's side).
pub fn read_request(xml: &str) -> Result<Request, EnvelopeError> {
    let doc = parse(xml)?;
    let op = operation(&doc)?;
    if !doc.element(op).is_some_and(|e| e.name.matches(Some(SYNC_TYPES), "SendMessage")) {
        return Err(shape("the Body does not hold a SendMessage"));
    }
    let request = child(&doc, op, None, "request")?;
    let info = child(&doc, request, None, "requestInfo")?;
    let sender = child(&doc, info, None, "sender")?;
    let data = child(&doc, child(&doc, request, None, "requestData")?, None, "data")?;
    Ok(Request {
        info: RequestInfo {
            message_id: field(&doc, info, "messageId")?,
            service_id: field(&doc, info, "serviceId")?,
            message_date: field(&doc, info, "messageDate")?,
        },
        sender_id: field(&doc, sender, "senderId")?,
        data: data_value(&doc, data)?,
    })
}

/// A response read: what it says of itself, and its data (on success).
#[derive(Clone, Debug, PartialEq)]
pub struct Response {
    pub info: ResponseInfo,
    pub data: Option<Value>,
}

/// Reads a `SendMessageResponse` (its signature is checked apart, on the same bytes).
pub fn read_response(xml: &str) -> Result<Response, EnvelopeError> {
    let doc = parse(xml)?;
    let op = operation(&doc)?;
    if !doc.element(op).is_some_and(|e| e.name.matches(Some(SYNC_TYPES), "SendMessageResponse")) {
        return Err(shape("the Body does not hold a SendMessageResponse"));
    }
    let response = child(&doc, op, None, "response")?;
    let info = child(&doc, response, None, "responseInfo")?;
    let status = child(&doc, info, None, "status")?;
    let data = match child(&doc, response, None, "responseData") {
        Ok(rd) => Some(data_value(&doc, child(&doc, rd, None, "data")?)?),
        Err(_) => None,
    };
    Ok(Response {
        info: ResponseInfo {
            message_id: field(&doc, info, "messageId")?,
            correlation_id: field(&doc, info, "correlationId")?,
            service_id: field(&doc, info, "serviceId")?,
            response_date: field(&doc, info, "responseDate")?,
            status_code: field(&doc, status, "code")?,
            status_message: field(&doc, status, "message").unwrap_or_default(),
        },
        data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_reads_back_as_written_and_its_secrets_stay_out_of_debug() {
        let sender = Sender { sender_id: "housing-ledger".into(), password: Secret::new("p<a>ss"), session_id: Some(Secret::new("sess-1")) };
        let info = RequestInfo { message_id: "m-1".into(), service_id: "GBDFL_UniversalServiceSync".into(), message_date: "2026-12-03T10:00:00+05:00".into() };
        let data = serde_json::json!({"operation": "query", "subjects": ["650101317494"], "fields": ["citizenship"]});
        let xml = request(&info, &sender, &data);
        let back = read_request(&xml).unwrap();
        assert_eq!((back.info, back.sender_id.as_str(), back.data), (info, "housing-ledger", data));
        assert!(xml.contains("p&lt;a&gt;ss") && xml.contains("<sessionId>sess-1</sessionId>"));
        let shown = format!("{sender:?}");
        assert!(!shown.contains("p<a>ss") && !shown.contains("sess-1"), "{shown}");
    }

    #[test]
    fn a_fault_is_named_and_a_second_response_is_refused() {
        assert_eq!(
            read_response(&fault("Server", "no route to service X")),
            Err(EnvelopeError::Fault { code: "soap:Server".into(), text: "no route to service X".into() })
        );
        let info = ResponseInfo {
            message_id: "r".into(),
            correlation_id: "m".into(),
            service_id: "S".into(),
            response_date: "2026-12-03T10:00:00Z".into(),
            status_code: SUCCESS.into(),
            status_message: "ok".into(),
        };
        let one = response_body(&info, Some(&serde_json::json!({"a": 1})));
        let xml = format!(r#"<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>{one}</soap:Body></soap:Envelope>"#);
        assert_eq!(read_response(&xml).unwrap(), Response { info, data: Some(serde_json::json!({"a": 1})) });
        let two = format!(r#"<soap:Envelope xmlns:soap="{SOAP11}"><soap:Body>{one}{one}</soap:Body></soap:Envelope>"#);
        assert!(matches!(read_response(&two), Err(EnvelopeError::Shape(e)) if e.contains("2 elements")));
    }
}
