//! Subjects with several organizations. Kubernetes reads every `O` of a client certificate as a group, but rcgen
//! keeps one value per attribute type. So organizations after the first are written under stand-in attribute
//! types 2.5.4.101 and up, whose encoding has the same length as `O` (2.5.4.10); once rcgen has built the
//! certificate the stand-ins are renamed to `O` in place and the certificate is signed again.

use rcgen::{DistinguishedName, DnType, KeyPair, SigningKey};
use x509_parser::certificate::X509Certificate;

use crate::{Error, Result};

/// The arc of `id-at` (2.5.4) attribute types.
const ID_AT: [u64; 3] = [2, 5, 4];
const ORGANIZATION_ARC: u8 = 10;
const FIRST_STAND_IN_ARC: u8 = 101;
/// The last arc that still encodes in a single byte.
const LAST_STAND_IN_ARC: u8 = 127;
pub(crate) const MAX_ORGANIZATIONS: usize = 1 + (LAST_STAND_IN_ARC - FIRST_STAND_IN_ARC + 1) as usize;

const TAG_SEQUENCE: u8 = 0x30;
const TAG_BIT_STRING: u8 = 0x03;

/// Adds `organizations` to `dn` in order, the first as a real `O` and the rest under stand-in types.
pub(crate) fn push_organizations(dn: &mut DistinguishedName, organizations: &[&str]) -> Result<()> {
    if organizations.len() > MAX_ORGANIZATIONS {
        return Err(Error::TooManyOrganizations { max: MAX_ORGANIZATIONS, requested: organizations.len() });
    }
    for (arc, org) in (FIRST_STAND_IN_ARC - 1..).zip(organizations) {
        let ty = if arc < FIRST_STAND_IN_ARC {
            DnType::OrganizationName
        } else {
            DnType::CustomDnType(ID_AT.into_iter().chain([u64::from(arc)]).collect())
        };
        dn.push(ty, *org);
    }
    Ok(())
}

/// Renames the stand-in attribute types in the subject of `cert_der` to `O` and re-signs it with `ca_key`. A
/// certificate without stand-ins is returned unchanged.
pub(crate) fn rename_stand_ins(cert_der: &[u8], ca_key: &KeyPair) -> Result<Vec<u8>> {
    let malformed = |what: &str| Error::InvalidCertificate(format!("re-signing issued certificate: {what}"));
    let (_, cert) = x509_parser::parse_x509_certificate(cert_der).map_err(|e| malformed(&e.to_string()))?;
    let tbs = cert.tbs_certificate.as_ref();
    let tbs_start = offset_within(cert_der, tbs).ok_or_else(|| malformed("TBS outside the certificate"))?;
    let stand_ins = stand_in_arc_offsets(&cert, tbs);
    if stand_ins.is_empty() {
        return Ok(cert_der.to_vec());
    }
    let mut new_tbs = tbs.to_vec();
    for offset in stand_ins {
        new_tbs[offset] = ORGANIZATION_ARC;
    }
    // The signature algorithm identifier follows the TBS and stays as it is: the signing key is the same.
    let alg_start = tbs_start + tbs.len();
    let alg_len = tlv_len(&cert_der[alg_start..]).ok_or_else(|| malformed("truncated signature algorithm"))?;
    let signature = ca_key.sign(&new_tbs)?;

    let mut bit_string = vec![0u8]; // no unused bits
    bit_string.extend(signature);
    let mut content = new_tbs;
    content.extend_from_slice(&cert_der[alg_start..alg_start + alg_len]);
    content.extend(encode_tlv(TAG_BIT_STRING, &bit_string));
    Ok(encode_tlv(TAG_SEQUENCE, &content))
}

/// Offsets, within `tbs`, of the last arc byte of every stand-in attribute type in the subject.
fn stand_in_arc_offsets(cert: &X509Certificate, tbs: &[u8]) -> Vec<usize> {
    let stand_in =
        |bytes: &[u8]| matches!(bytes, [0x55, 0x04, arc] if (FIRST_STAND_IN_ARC..=LAST_STAND_IN_ARC).contains(arc));
    cert.subject()
        .iter_attributes()
        .map(|attr| attr.attr_type().as_bytes())
        .filter(|bytes| stand_in(bytes))
        .filter_map(|bytes| Some(offset_within(tbs, bytes)? + bytes.len() - 1))
        .collect()
}

/// Where `inner` starts inside `outer`, when it is a sub-slice of it (x509-parser borrows from its input).
fn offset_within(outer: &[u8], inner: &[u8]) -> Option<usize> {
    let offset = (inner.as_ptr() as usize).checked_sub(outer.as_ptr() as usize)?;
    (offset + inner.len() <= outer.len()).then_some(offset)
}

/// The total length (header and content) of the DER element at the start of `bytes`.
fn tlv_len(bytes: &[u8]) -> Option<usize> {
    let first = *bytes.get(1)?;
    let (header, content) = if first < 0x80 {
        (2, usize::from(first))
    } else {
        let count = usize::from(first & 0x7f);
        (2 + count, bytes.get(2..2 + count)?.iter().fold(0usize, |len, b| len << 8 | usize::from(*b)))
    };
    let total = header + content;
    (total <= bytes.len()).then_some(total)
}

fn encode_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    if content.len() < 0x80 {
        out.push(content.len() as u8);
    } else {
        let len = content.len().to_be_bytes();
        let significant = &len[len.iter().take_while(|b| **b == 0).count()..];
        out.push(0x80 | significant.len() as u8);
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}
