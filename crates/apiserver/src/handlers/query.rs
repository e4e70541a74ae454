//! Query parameters of a request.

use crate::status::{ApiError, ApiResult};

/// Parameters in order; a key may repeat (`?exclude=a&exclude=b`).
#[derive(Clone, Debug, Default)]
pub struct Query(Vec<(String, String)>);

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        Query(form_urlencoded::parse(raw.unwrap_or_default().as_bytes()).into_owned().collect())
    }

    /// The first value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of `key`.
    pub fn all(&self, key: &str) -> Vec<&str> {
        self.0.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    pub fn flag(&self, key: &str) -> bool {
        matches!(self.get(key), Some("true" | "1" | ""))
    }

    /// A non-negative integer parameter.
    pub fn number(&self, key: &str) -> ApiResult<Option<u64>> {
        self.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| v.parse().map_err(|_| ApiError::BadRequest(format!("invalid {key} {v:?}: not a number"))))
            .transpose()
    }

    /// `dryRun=All` (the only value upstream accepts).
    pub fn dry_run(&self) -> ApiResult<bool> {
        match self.get("dryRun") {
            None | Some("") => Ok(false),
            Some("All") => Ok(true),
            Some(other) => {
                Err(ApiError::BadRequest(format!("Invalid dry run value: {other:?}; supported values: \"All\"")))
            }
        }
    }
}
