//! JSON values in XML, as the W3C defines it for `fn:json-to-xml` (XPath and XQuery Functions
//! and Operators 3.1, §17.5, namespace `http://www.w3.org/2005/xpath-functions`): `map`,
//! `array`, `string`, `number`, `boolean` and `null` elements, members named by a `key`
//! attribute. Lossless both ways, and any XSLT 3.0 processor reads it. The gateway's `data`
//! carries our queries and answers this way (`docs/implementation/gateway.md`).

use serde_json::{Map, Value};
use uppsala::{Document, NodeId};

pub const FN: &str = "http://www.w3.org/2005/xpath-functions";

/// XML text with `&`, `<`, `>`, `"` and `'` escaped (fit for content and attributes).
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
    out
}

/// `value` as a `fn:` element, declaring the namespace on itself.
pub fn to_xml(value: &Value) -> String {
    let mut out = String::new();
    write(value, None, true, &mut out);
    out
}

fn write(value: &Value, key: Option<&str>, root: bool, out: &mut String) {
    let name = match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "map",
    };
    out.push('<');
    out.push_str(name);
    if root {
        out.push_str(&format!(" xmlns=\"{FN}\""));
    }
    if let Some(k) = key {
        out.push_str(&format!(" key=\"{}\"", escape(k)));
    }
    match value {
        Value::Null => out.push_str("/>"),
        Value::Bool(b) => out.push_str(&format!(">{b}</boolean>")),
        Value::Number(n) => out.push_str(&format!(">{n}</number>")),
        Value::String(s) => out.push_str(&format!(">{}</string>", escape(s))),
        Value::Array(items) => {
            out.push('>');
            items.iter().for_each(|v| write(v, None, false, out));
            out.push_str("</array>");
        }
        Value::Object(m) => {
            out.push('>');
            m.iter().for_each(|(k, v)| write(v, Some(k), false, out));
            out.push_str("</map>");
        }
    }
}

/// What in a `fn:` element is not a JSON value, named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotJson {
    #[error("not an element")]
    NotAnElement,
    #[error("<{0}> is not in the {FN} namespace")]
    OtherNamespace(String),
    #[error("text inside <{0}>")]
    TextInside(String),
    #[error("boolean {0:?}")]
    Boolean(String),
    #[error("number {0:?}")]
    Number(String),
    #[error("a map member without a key")]
    NoKey,
    #[error("the key {0:?} twice in a map")]
    KeyTwice(String),
    #[error("<{0}> is not a JSON element")]
    NotAJsonElement(String),
}

/// The JSON value the `fn:` element `node` holds. Anything else in its place (another element,
/// text between members, a duplicate key, a number that is not one) is refused, naming it.
pub fn from_xml(doc: &Document<'_>, node: NodeId) -> Result<Value, NotJson> {
    let el = doc.element(node).ok_or(NotJson::NotAnElement)?;
    if el.name.namespace_uri.as_deref() != Some(FN) {
        return Err(NotJson::OtherNamespace(el.name.prefixed_name().to_string()));
    }
    let text = || doc.text_content_deep(node);
    let members = || -> Result<Vec<NodeId>, NotJson> {
        let mut out = Vec::new();
        for c in doc.children(node) {
            if doc.element(c).is_some() {
                out.push(c);
            } else if !doc.text_content(c).unwrap_or_default().trim().is_empty() {
                return Err(NotJson::TextInside(el.name.local_name.to_string()));
            }
        }
        Ok(out)
    };
    Ok(match &*el.name.local_name {
        "null" => Value::Null,
        "boolean" => match text().trim() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            other => return Err(NotJson::Boolean(other.into())),
        },
        "number" => {
            let t = text();
            serde_json::from_str::<serde_json::Number>(t.trim()).map(Value::Number).map_err(|_| NotJson::Number(t.clone()))?
        }
        "string" => Value::String(text()),
        "array" => Value::Array(members()?.into_iter().map(|c| from_xml(doc, c)).collect::<Result<_, _>>()?),
        "map" => {
            let mut m = Map::new();
            for c in members()? {
                let key = doc.get_attribute(c, "key").ok_or(NotJson::NoKey)?.to_string();
                let v = from_xml(doc, c)?;
                if m.insert(key.clone(), v).is_some() {
                    return Err(NotJson::KeyTwice(key));
                }
            }
            Value::Object(m)
        }
        other => return Err(NotJson::NotAJsonElement(other.into())),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_go_through_xml_and_back_unchanged() {
        let v = serde_json::json!({"a": [1, 2.5, "x<&>\"'", null, true], "b": {"c": false, "": "empty key"}, "n": -12});
        let xml = to_xml(&v);
        let doc = uppsala::parse(&xml).unwrap();
        assert_eq!(from_xml(&doc, doc.document_element().unwrap()).unwrap(), v);
    }

    #[test]
    fn a_duplicate_key_or_a_stray_element_is_refused() {
        for (xml, why) in [
            (format!(r#"<map xmlns="{FN}"><string key="a">1</string><string key="a">2</string></map>"#), "twice"),
            (format!(r#"<map xmlns="{FN}"><other key="a"/></map>"#), "not a JSON element"),
            (format!(r#"<number xmlns="{FN}">1e</number>"#), "number"),
            (r#"<map><string key="a">1</string></map>"#.to_string(), "namespace"),
        ] {
            let doc = uppsala::parse(&xml).unwrap();
            let err = from_xml(&doc, doc.document_element().unwrap()).unwrap_err();
            assert!(err.to_string().contains(why), "{xml}: {err}");
        }
    }
}
