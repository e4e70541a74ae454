//! The CSV dialect of Go's `encoding/csv` reader with the settings kube-apiserver uses for
//! its token file: comma-separated, a variable number of fields per record, no comment
//! character, no trimming, strict quotes, blank lines skipped, `\r\n` read as `\n`, and
//! quoted fields that may span lines.

/// One parsed record and the (1-based) line it starts on.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A syntax error, worded as Go's `csv.ParseError`.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum CsvError {
    #[error("parse error on line {line}, column {column}: bare \" in non-quoted-field")]
    BareQuote { line: usize, column: usize },
    #[error("parse error on line {line}, column {column}: extraneous or missing \" in quoted-field")]
    Quote { line: usize, column: usize },
}

/// Splits `text` into records.
pub(crate) fn records(text: &str) -> Result<Vec<Record>, CsvError> {
    let lines: Vec<&str> = text.split_inclusive('\n').map(strip_line_end).collect();
    let mut records = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let start = index;
        if lines[index].is_empty() {
            index += 1;
            continue;
        }
        let fields = parse_record(&lines, &mut index)?;
        records.push(Record { line: start + 1, fields });
        index += 1;
    }
    Ok(records)
}

/// Drops the line terminator: `\n`, `\r\n`, or a lone `\r` before the end of the input.
fn strip_line_end(line: &str) -> &str {
    let line = line.strip_suffix('\n').unwrap_or(line);
    line.strip_suffix('\r').unwrap_or(line)
}

/// Parses the record starting at `lines[*index]`; a quoted field that continues past its
/// line moves `*index` on to the line where the record ends.
fn parse_record(lines: &[&str], index: &mut usize) -> Result<Vec<String>, CsvError> {
    let mut fields = Vec::new();
    let mut rest = lines[*index];
    loop {
        let Some(quoted) = rest.strip_prefix('"') else {
            let end = rest.find(',').unwrap_or(rest.len());
            let field = &rest[..end];
            if let Some(quote) = field.find('"') {
                let column = column(lines[*index], &field[quote..]);
                return Err(CsvError::BareQuote { line: *index + 1, column });
            }
            fields.push(field.to_owned());
            if end == rest.len() {
                return Ok(fields);
            }
            rest = &rest[end + 1..];
            continue;
        };
        let mut field = String::new();
        let mut s = quoted;
        loop {
            let Some(quote) = s.find('"') else {
                // The field goes on past this line, keeping the line break.
                if *index + 1 >= lines.len() {
                    let line = lines[*index];
                    return Err(CsvError::Quote { line: *index + 1, column: line.chars().count() + 1 });
                }
                field.push_str(s);
                field.push('\n');
                *index += 1;
                s = lines[*index];
                continue;
            };
            field.push_str(&s[..quote]);
            let after = &s[quote + 1..];
            if let Some(more) = after.strip_prefix('"') {
                field.push('"');
                s = more;
            } else if let Some(next) = after.strip_prefix(',') {
                fields.push(field);
                rest = next;
                break;
            } else if after.is_empty() {
                fields.push(field);
                return Ok(fields);
            } else {
                let column = column(lines[*index], after);
                return Err(CsvError::Quote { line: *index + 1, column });
            }
        }
    }
}

/// The 1-based column (in characters) where `tail`, a suffix of `line`, starts.
fn column(line: &str, tail: &str) -> usize {
    line[..line.len() - tail.len()].chars().count() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(text: &str) -> Vec<Vec<String>> {
        records(text).unwrap().into_iter().map(|r| r.fields).collect()
    }

    #[test]
    fn plain_quoted_and_empty_fields() {
        assert_eq!(
            fields("a,b,c\r\n\n\"x,y\",\"say \"\"hi\"\"\",\n"),
            vec![vec!["a", "b", "c"], vec!["x,y", "say \"hi\"", ""]]
        );
        assert_eq!(fields(" a , b"), vec![vec![" a ", " b"]]);
    }

    #[test]
    fn quoted_field_spans_lines_and_records_keep_their_start_line() {
        let parsed = records("\"one\ntwo\",x\nnext,y").unwrap();
        assert_eq!(parsed[0], Record { line: 1, fields: vec!["one\ntwo".into(), "x".into()] });
        assert_eq!(parsed[1].line, 3);
    }

    #[test]
    fn quote_errors_match_go() {
        assert_eq!(records("a,b\"c").unwrap_err(), CsvError::BareQuote { line: 1, column: 4 });
        assert_eq!(records("ok\n\"a\"b").unwrap_err(), CsvError::Quote { line: 2, column: 4 });
        assert_eq!(records("\"open").unwrap_err(), CsvError::Quote { line: 1, column: 6 });
    }
}
