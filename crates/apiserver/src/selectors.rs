//! Label and field selectors, as `?labelSelector=` and `?fieldSelector=` carry them.

use crate::status::ApiError;
use std::collections::BTreeMap;

/// One label requirement.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Requirement {
    Equals(String, String),
    NotEquals(String, String),
    In(String, Vec<String>),
    NotIn(String, Vec<String>),
    Exists(String),
    NotExists(String),
    GreaterThan(String, i64),
    LessThan(String, i64),
}

/// A parsed label selector: all requirements must hold. Empty matches everything.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelSelector(Vec<Requirement>);

impl LabelSelector {
    /// Parse upstream's selector syntax: `a=b,c!=d,e in (x,y),f notin (z),g,!h,i>3`.
    pub fn parse(s: &str) -> Result<LabelSelector, ApiError> {
        let mut reqs = Vec::new();
        for term in split_terms(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            reqs.push(parse_term(term).ok_or_else(|| {
                ApiError::BadRequest(format!("unable to parse requirement: found '{term}', expected: valid selector"))
            })?);
        }
        Ok(LabelSelector(reqs))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn matches(&self, labels: &BTreeMap<String, String>) -> bool {
        self.0.iter().all(|r| match r {
            Requirement::Equals(k, v) => labels.get(k) == Some(v),
            Requirement::NotEquals(k, v) => labels.get(k) != Some(v),
            Requirement::In(k, vs) => labels.get(k).is_some_and(|v| vs.contains(v)),
            Requirement::NotIn(k, vs) => labels.get(k).is_none_or(|v| !vs.contains(v)),
            Requirement::Exists(k) => labels.contains_key(k),
            Requirement::NotExists(k) => !labels.contains_key(k),
            Requirement::GreaterThan(k, n) => labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v > *n),
            Requirement::LessThan(k, n) => labels.get(k).and_then(|v| v.parse::<i64>().ok()).is_some_and(|v| v < *n),
        })
    }
}

/// Split on commas that are not inside parentheses.
fn split_terms(s: &str) -> Vec<&str> {
    let mut terms = Vec::new();
    let (mut depth, mut start) = (0, 0);
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                terms.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    terms.push(&s[start..]);
    terms
}

fn parse_set(rest: &str) -> Option<Vec<String>> {
    let inner = rest.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(inner.split(',').map(|v| v.trim().to_owned()).filter(|v| !v.is_empty()).collect())
}

fn parse_term(term: &str) -> Option<Requirement> {
    if let Some(key) = term.strip_prefix('!') {
        return valid_key(key.trim()).then(|| Requirement::NotExists(key.trim().to_owned()));
    }
    for (op, build) in [
        ("!=", Requirement::NotEquals as fn(String, String) -> Requirement),
        ("==", Requirement::Equals),
        ("=", Requirement::Equals),
    ] {
        if let Some((k, v)) = term.split_once(op) {
            return valid_key(k.trim()).then(|| build(k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    for (op, gt) in [(">", true), ("<", false)] {
        if let Some((k, v)) = term.split_once(op) {
            let n = v.trim().parse().ok()?;
            let k = k.trim().to_owned();
            return Some(if gt { Requirement::GreaterThan(k, n) } else { Requirement::LessThan(k, n) });
        }
    }
    let mut words = term.splitn(2, char::is_whitespace);
    let key = words.next()?.trim().to_owned();
    match words.next().map(str::trim) {
        None => valid_key(&key).then_some(Requirement::Exists(key)),
        Some(rest) => {
            if let Some(set) = rest.strip_prefix("notin") {
                Some(Requirement::NotIn(key, parse_set(set)?))
            } else if let Some(set) = rest.strip_prefix("in") {
                Some(Requirement::In(key, parse_set(set)?))
            } else {
                None
            }
        }
    }
}

fn valid_key(k: &str) -> bool {
    !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c))
}

/// A parsed field selector: `key=value` and `key!=value` terms.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct FieldSelector(Vec<(String, bool, String)>);

impl FieldSelector {
    /// Parse, checking every key against the resource's supported fields; an unsupported
    /// one is upstream's 400 `field label not supported`.
    pub fn parse(s: &str, supported: &dyn Fn(&str) -> bool) -> Result<FieldSelector, ApiError> {
        let mut terms = Vec::new();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (key, eq, value) = if let Some((k, v)) = term.split_once("!=") {
                (k, false, v)
            } else if let Some((k, v)) = term.split_once("==") {
                (k, true, v)
            } else if let Some((k, v)) = term.split_once('=') {
                (k, true, v)
            } else {
                return Err(ApiError::BadRequest(format!("invalid selector: '{s}'; can't understand '{term}'")));
            };
            let key = key.trim();
            if !supported(key) {
                return Err(ApiError::BadRequest(format!("field label not supported: {key}")));
            }
            terms.push((key.to_owned(), eq, value.trim().to_owned()));
        }
        Ok(FieldSelector(terms))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The single `metadata.name=X` this selector pins, if any (lets a list read one key).
    pub fn exact_name(&self) -> Option<&str> {
        self.0.iter().find(|(k, eq, _)| k == "metadata.name" && *eq).map(|(_, _, v)| v.as_str())
    }

    /// Match against the object's field values (missing fields count as empty).
    pub fn matches(&self, fields: &dyn Fn(&str) -> Option<String>) -> bool {
        self.0.iter().all(|(k, eq, v)| (fields(k).unwrap_or_default() == *v) == *eq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn label_selectors() {
        let l = labels(&[("run", "my-nginx"), ("tier", "web"), ("n", "5")]);
        for (sel, want) in [
            ("run=my-nginx", true),
            ("run==my-nginx,tier=web", true),
            ("run!=my-nginx", false),
            ("tier in (web,db)", true),
            ("tier notin (web)", false),
            ("env notin (prod)", true),
            ("run", true),
            ("!run", false),
            ("!env", true),
            ("n>3", true),
            ("n<3", false),
            ("", true),
        ] {
            assert_eq!(LabelSelector::parse(sel).unwrap().matches(&l), want, "{sel}");
        }
        assert!(LabelSelector::parse("a in x").is_err());
    }

    #[test]
    fn field_selectors() {
        let supported = |k: &str| k == "metadata.name" || k == "status.phase";
        let sel = FieldSelector::parse("metadata.name=web,status.phase!=Failed", &supported).unwrap();
        assert_eq!(sel.exact_name(), Some("web"));
        let get = |k: &str| match k {
            "metadata.name" => Some("web".to_owned()),
            "status.phase" => Some("Running".to_owned()),
            _ => None,
        };
        assert!(sel.matches(&get));
        let err = FieldSelector::parse("spec.foo=bar", &supported).unwrap_err();
        assert_eq!(err.to_string(), "field label not supported: spec.foo");
    }
}
