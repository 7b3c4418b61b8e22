//! Signed checkpoints in the C2SP formats (`tlog-checkpoint` inside a `signed-note`), through
//! `tlog_tiles` and `signed_note`, so that any tool that knows those formats can check them and a
//! witness can later cosign them:
//!
//! ```text
//! ms5-floor/plant-1
//! 1024
//! <root hash, base64>
//!
//! — ms5-floor/plant-1 <key id and signature, base64>
//! ```
//!
//! The origin line is the signing key's name. The time a checkpoint was written is kept beside it in the
//! database, not in the signed text (C2SP discourages time in extension lines).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use signed_note::{Note, Signer as _, StandardSigner, StandardVerifier, Verifier as _, VerifierList};

use super::tree::TreeHead;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    #[error("the seal key is not a signed-note Ed25519 signer key (PRIVATE+KEY+name+id+key)")]
    MalformedSealKey,
    #[error("the verifier key is not a signed-note Ed25519 verifier key (name+id+key)")]
    MalformedVerifierKey,
    #[error("the checkpoint is not a signed note holding a C2SP checkpoint")]
    Malformed,
    #[error("the checkpoint's origin is {found}, not {expected}")]
    WrongOrigin { expected: String, found: String },
    #[error("the checkpoint carries no valid signature of {0}")]
    BadSignature(String),
    #[error("signing failed")]
    Signing,
}

/// The sealer's private key: an Ed25519 key in the signed-note text form, read from a file or the
/// environment and never stored in the database.
#[derive(Clone)]
pub struct SealKey {
    signer: StandardSigner,
    verifier: VerifierKey,
}

impl std::fmt::Debug for SealKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SealKey").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl SealKey {
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let text = text.trim();
        let signer = StandardSigner::new(text).map_err(|_| CheckpointError::MalformedSealKey)?;
        // The signer keeps its public half to itself; the key text holds the seed it derives from, after
        // `PRIVATE+KEY+name+id+` (a name has no `+`; base64 may).
        let encoded = text.splitn(5, '+').nth(4).unwrap_or_default();
        let key = BASE64.decode(encoded).map_err(|_| CheckpointError::MalformedSealKey)?;
        let seed: [u8; 32] =
            key.get(1..).and_then(|seed| seed.try_into().ok()).ok_or(CheckpointError::MalformedSealKey)?;
        let public = ed25519_dalek::SigningKey::from_bytes(&seed).verifying_key();
        let verifier = VerifierKey::parse(&signed_note::new_ed25519_verifier_key(signer.name(), &public))?;
        Ok(Self { signer, verifier })
    }

    pub fn verifier(&self) -> &VerifierKey {
        &self.verifier
    }

    /// A new key named `origin` (no spaces, no `+`), in its text form.
    pub fn generate(origin: &str) -> Result<String, CheckpointError> {
        if !signed_note::is_key_name_valid(origin) {
            return Err(CheckpointError::MalformedSealKey);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| CheckpointError::Signing)?;
        let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
        let public = [&[1u8][..], signing.verifying_key().as_bytes()].concat();
        let private = [&[1u8][..], &seed[..]].concat();
        let id = signed_note::key_id(origin, &public);
        Ok(format!("PRIVATE+KEY+{origin}+{id:08x}+{}", BASE64.encode(private)))
    }

    /// The key's name: the origin line of every checkpoint it signs.
    pub fn origin(&self) -> &str {
        self.signer.name()
    }

    pub fn sign(&self, head: &TreeHead) -> Result<SignedCheckpoint, CheckpointError> {
        let body = tlog_tiles::Checkpoint::new(self.origin(), head.size, tlog_tiles::Hash(head.root), "")
            .map_err(|_| CheckpointError::Malformed)?;
        let mut note = Note::new(&body.to_bytes(), &[]).map_err(|_| CheckpointError::Malformed)?;
        note.add_sigs(&[&self.signer]).map_err(|_| CheckpointError::Signing)?;
        let text = String::from_utf8(note.to_bytes()).map_err(|_| CheckpointError::Malformed)?;
        Ok(SignedCheckpoint { head: *head, text })
    }
}

/// The public half of the seal key, in the signed-note text form (`name+id+key`): what an auditor keeps
/// to check checkpoints with, here or with any tool that knows the format.
#[derive(Clone)]
pub struct VerifierKey {
    text: String,
    verifier: StandardVerifier,
}

impl std::fmt::Debug for VerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl VerifierKey {
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let text = text.trim();
        let verifier = StandardVerifier::new(text).map_err(|_| CheckpointError::MalformedVerifierKey)?;
        Ok(Self { text: text.to_owned(), verifier })
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn origin(&self) -> &str {
        self.verifier.name()
    }

    /// The tree head a signed checkpoint states, once its signature by this key checks and its origin is
    /// this key's name.
    pub fn open(&self, text: &str) -> Result<SignedCheckpoint, CheckpointError> {
        let note = Note::from_bytes(text.as_bytes()).map_err(|_| CheckpointError::Malformed)?;
        let known = VerifierList::new(vec![Box::new(self.verifier.clone())]);
        note.verify(&known).map_err(|_| CheckpointError::BadSignature(self.text.clone()))?;
        let body = tlog_tiles::Checkpoint::from_bytes(note.text()).map_err(|_| CheckpointError::Malformed)?;
        if body.origin() != self.origin() {
            return Err(CheckpointError::WrongOrigin {
                expected: self.origin().to_owned(),
                found: body.origin().to_owned(),
            });
        }
        let head = TreeHead { size: body.size(), root: body.hash().0 };
        Ok(SignedCheckpoint { head, text: text.to_owned() })
    }
}

/// A tree head and the signed note that states it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedCheckpoint {
    pub head: TreeHead,
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_keys_parse_whatever_their_base64_holds_and_sign_checkpoints_only_their_verifier_opens() {
        let other = SealKey::parse(&SealKey::generate("ms5-floor/other").unwrap()).unwrap();
        for _ in 0..64 {
            let key = SealKey::parse(&SealKey::generate("ms5-floor/plant-1").unwrap()).unwrap();
            let head = TreeHead { size: 42, root: [7; 32] };
            let signed = key.sign(&head).unwrap();
            assert!(signed.text.starts_with("ms5-floor/plant-1\n42\n"), "{}", signed.text);
            assert_eq!(key.verifier().open(&signed.text).unwrap().head, head);
            assert!(other.verifier().open(&signed.text).is_err());
        }
        assert_eq!(SealKey::generate("has space").unwrap_err(), CheckpointError::MalformedSealKey);
        assert_eq!(SealKey::parse("PRIVATE+KEY+x+00000000+AAAA").unwrap_err(), CheckpointError::MalformedSealKey);
    }
}
