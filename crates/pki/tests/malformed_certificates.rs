//! Malformed client certificates never panic the identity parser; truncated ones are
//! always refused. (The TLS verifier, tested in the crate, refuses any altered one.)

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

#[test]
fn random_truncated_and_flipped_certificates_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let pki = pki::Pki::load_or_create(dir.path(), &pki::ServingOptions::default()).unwrap();
    let (pem, _key) = pki.issue_client_cert("jane", &["devs", "system:masters"]).unwrap();
    let der = CertificateDer::from_pem_slice(pem.as_bytes()).unwrap().to_vec();
    let intact = pki::client_identity(&der).unwrap();
    assert_eq!(intact.user, "jane");

    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    // Random bytes.
    for _ in 0..2000 {
        let len = rng.below(600);
        let bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
        let _ = pki::client_identity(&bytes);
    }
    // Every truncation.
    for cut in 0..der.len() {
        assert!(pki::client_identity(&der[..cut]).is_err(), "a certificate cut at {cut} was accepted");
    }
    // Random byte flips: parse errors, or (in the signature and other fields) the same
    // or a different but well-formed name; never a panic. The TLS layer rejects any
    // changed certificate because its signature no longer verifies.
    for _ in 0..3000 {
        let mut mutated = der.clone();
        for _ in 0..=rng.below(4) {
            let at = rng.below(mutated.len());
            mutated[at] ^= 1 << rng.below(8);
        }
        let _ = pki::client_identity(&mutated);
    }
}
