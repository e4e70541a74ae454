//! The static token file of `--token-auth-file`: CSV records `token,user,uid` with an
//! optional fourth column of comma-separated groups (quoted, as CSV requires).
//!
//! Parsing follows kube-apiserver: fewer than three columns is an error, a record with an
//! empty token is skipped, and a later record for the same token replaces the earlier one.
//! Lookups compare SHA-256 digests in constant time against every entry, so neither the
//! position of a match nor the length of a near miss shows in the timing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::csv::{self, CsvError};
use crate::user::UserInfo;

/// Why a token file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TokenFileError {
    /// The file could not be read.
    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// The CSV is malformed (a stray or unbalanced quote).
    #[error("token file: {0}")]
    Csv(#[from] CsvError),
    /// A record lacks one of the three required columns.
    #[error("token file must have at least 3 columns (token, user name, user uid), found {found} on line {line}")]
    TooFewColumns { line: usize, found: usize },
}

/// One accepted token: the digest of its value and the user it names.
#[derive(Debug, Clone)]
struct Entry {
    digest: [u8; 32],
    user: UserInfo,
}

/// The tokens of a token file.
#[derive(Debug, Clone, Default)]
pub struct TokenFile {
    entries: Vec<Entry>,
}

impl TokenFile {
    /// Reads and parses the token file at `path`.
    pub fn load(path: &Path) -> Result<TokenFile, TokenFileError> {
        let text =
            std::fs::read_to_string(path).map_err(|source| TokenFileError::Io { path: path.to_path_buf(), source })?;
        TokenFile::parse(&text)
    }

    /// Parses the text of a token file.
    pub fn parse(text: &str) -> Result<TokenFile, TokenFileError> {
        let mut entries: Vec<Entry> = Vec::new();
        for record in csv::records(text)? {
            let fields = record.fields;
            if fields.len() < 3 {
                return Err(TokenFileError::TooFewColumns { line: record.line, found: fields.len() });
            }
            if fields[0].is_empty() {
                continue;
            }
            let digest = digest(&fields[0]);
            // Upstream splits the group column without dropping empty names, so does this.
            let groups = fields.get(3).map(|g| g.split(',').map(str::to_owned).collect()).unwrap_or_default();
            let user = UserInfo::authenticated(fields[1].clone(), fields[2].clone(), groups, BTreeMap::new());
            entries.retain(|e| e.digest != digest);
            entries.push(Entry { digest, user });
        }
        Ok(TokenFile { entries })
    }

    /// The number of distinct tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The user `token` belongs to, if it is one of the file's tokens.
    pub fn authenticate(&self, token: &str) -> Option<UserInfo> {
        let presented = digest(token);
        let mut found = None;
        for entry in &self.entries {
            // Every entry is compared, whatever matched before.
            if bool::from(entry.digest.ct_eq(&presented)) {
                found = Some(&entry.user);
            }
        }
        found.cloned()
    }
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ALL_AUTHENTICATED;

    const FILE: &str = "\
token1,alice,1001,\"system:masters,dev\"
token2,bob,1002

,empty,1003
token3,carol,1004,
token2,bobby,1005,ops
";

    #[test]
    fn users_groups_and_authenticated_group() {
        let file = TokenFile::parse(FILE).unwrap();
        assert_eq!(file.len(), 3);
        let alice = file.authenticate("token1").unwrap();
        assert_eq!((alice.name.as_str(), alice.uid.as_str()), ("alice", "1001"));
        assert_eq!(alice.groups, ["system:masters", "dev", ALL_AUTHENTICATED]);
        assert!(alice.extra.is_empty());
        // An empty fourth column is one empty group name, as upstream's strings.Split gives.
        assert_eq!(file.authenticate("token3").unwrap().groups, ["", ALL_AUTHENTICATED]);
    }

    #[test]
    fn later_duplicate_wins_and_unknown_or_empty_tokens_fail() {
        let file = TokenFile::parse(FILE).unwrap();
        let bob = file.authenticate("token2").unwrap();
        assert_eq!((bob.name.as_str(), bob.uid.as_str()), ("bobby", "1005"));
        for token in ["", "token", "token10", "TOKEN1", " token1", "token1 "] {
            assert_eq!(file.authenticate(token), None, "{token:?}");
        }
    }

    #[test]
    fn short_records_and_bad_quotes_are_errors() {
        let err = TokenFile::parse("a,b,c\n# comment\n").unwrap_err();
        assert!(matches!(err, TokenFileError::TooFewColumns { line: 2, found: 1 }), "{err}");
        assert_eq!(
            err.to_string(),
            "token file must have at least 3 columns (token, user name, user uid), found 1 on line 2"
        );
        assert!(matches!(TokenFile::parse("a,b,c,\"g").unwrap_err(), TokenFileError::Csv(_)));
    }

    #[test]
    fn load_reads_a_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tokens.csv");
        std::fs::write(&path, FILE).unwrap();
        assert_eq!(TokenFile::load(&path).unwrap().len(), 3);
        assert!(matches!(TokenFile::load(&dir.path().join("missing")), Err(TokenFileError::Io { .. })));
    }
}
