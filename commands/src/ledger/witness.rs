//! Witnesses (docs/event-store.md, "Witnesses"): a party outside the plant's database with its own
//! Ed25519 key and its own record of the last checkpoint it accepted. Given a newer checkpoint and a
//! consistency proof from the one it holds, it checks that the log only grew and cosigns the checkpoint.
//! A log that was rewritten cannot get a cosignature from a witness that saw it before.
//!
//! The formats are C2SP's, so any tool that knows them can check or be a witness:
//! - a cosignature (`tlog-cosignature`, cosignature/v1) is a signed-note signature line whose bytes are
//!   the key id, the time (seconds, big-endian u64) and an Ed25519 signature over
//!   `cosignature/v1\ntime <seconds>\n` followed by the checkpoint's text;
//! - a witness verifier key is `name+id+base64(0x04 || public key)`, the id taken over that form;
//! - a request (`tlog-witness`, add-checkpoint) is `old <size>`, the proof's hashes in base64 one per
//!   line, an empty line, and the signed checkpoint.
//!
//! The witness's private key has the signed-note private key form with the cosignature type byte:
//! `PRIVATE+KEY+name+id+base64(0x04 || seed)`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use ed25519_dalek::{Signer as _, SigningKey, VerifyingKey};
use signed_note::{Note, VerifierList};

use super::checkpoint::{CheckpointError, SignedCheckpoint, VerifierKey};
use super::tree::{self, Digest, TreeHead};

/// The signature type byte of cosignature/v1 keys.
const COSIGNATURE_V1: u8 = 0x04;
/// The longest consistency proof a tree of up to 2^63 entries needs.
const MAX_PROOF_HASHES: usize = 126;

/// The message a cosignature signs: the header lines, then the checkpoint's text (its signed body).
fn signed_message(time: u64, checkpoint_text: &[u8]) -> Vec<u8> {
    [format!("cosignature/v1\ntime {time}\n").as_bytes(), checkpoint_text].concat()
}

/// A witness's private key.
#[derive(Clone)]
pub struct WitnessKey {
    signing: SigningKey,
    verifier: WitnessVerifierKey,
}

impl std::fmt::Debug for WitnessKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WitnessKey").field("verifier", &self.verifier).finish_non_exhaustive()
    }
}

impl WitnessKey {
    /// A new key named `name` (no spaces, no `+`), in its text form.
    pub fn generate(name: &str) -> Result<String, CheckpointError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(CheckpointError::MalformedSealKey);
        }
        let mut seed = [0u8; 32];
        getrandom::fill(&mut seed).map_err(|_| CheckpointError::Signing)?;
        let public = SigningKey::from_bytes(&seed).verifying_key();
        let id = signed_note::key_id(name, &typed(&public.to_bytes()));
        Ok(format!("PRIVATE+KEY+{name}+{id:08x}+{}", BASE64.encode(typed(&seed))))
    }

    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let malformed = CheckpointError::MalformedSealKey;
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(malformed.clone())?;
        let [name, id, encoded] = split_key(rest).ok_or(malformed.clone())?;
        let seed: [u8; 32] = untyped(encoded).ok_or(malformed.clone())?;
        let signing = SigningKey::from_bytes(&seed);
        let verifier = WitnessVerifierKey::new(name, signing.verifying_key());
        if format!("{:08x}", verifier.id) != id {
            return Err(malformed);
        }
        Ok(Self { signing, verifier })
    }

    pub fn verifier(&self) -> &WitnessVerifierKey {
        &self.verifier
    }

    /// The checkpoint's note with this witness's cosignature (at `time`, seconds since the epoch) added
    /// after its signatures.
    pub fn cosign(&self, checkpoint: &str, time: u64) -> Result<String, CheckpointError> {
        let mut note = Note::from_bytes(checkpoint.as_bytes()).map_err(|_| CheckpointError::Malformed)?;
        let signer = Cosigner { key: self, time };
        note.add_sigs(&[&signer]).map_err(|_| CheckpointError::Signing)?;
        String::from_utf8(note.to_bytes()).map_err(|_| CheckpointError::Malformed)
    }

    /// Only the cosignature line `cosign` adds.
    pub fn cosignature_line(&self, checkpoint: &str, time: u64) -> Result<String, CheckpointError> {
        let cosigned = self.cosign(checkpoint, time)?;
        let prefix = format!("— {} ", self.verifier.name);
        cosigned
            .lines()
            .rev()
            .find(|line| line.starts_with(&prefix))
            .map(|line| format!("{line}\n"))
            .ok_or(CheckpointError::Signing)
    }
}

struct Cosigner<'a> {
    key: &'a WitnessKey,
    time: u64,
}

impl signed_note::Signer for Cosigner<'_> {
    fn name(&self) -> &str {
        &self.key.verifier.name
    }

    fn key_id(&self) -> u32 {
        self.key.verifier.id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        let signature = self.key.signing.sign(&signed_message(self.time, msg));
        Ok([&self.time.to_be_bytes()[..], &signature.to_bytes()[..]].concat())
    }
}

/// A witness's public key, which checks its cosignatures.
#[derive(Clone)]
pub struct WitnessVerifierKey {
    name: String,
    id: u32,
    key: VerifyingKey,
}

impl std::fmt::Debug for WitnessVerifierKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text())
    }
}

impl WitnessVerifierKey {
    fn new(name: &str, key: VerifyingKey) -> Self {
        let id = signed_note::key_id(name, &typed(&key.to_bytes()));
        Self { name: name.to_owned(), id, key }
    }

    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let malformed = CheckpointError::MalformedVerifierKey;
        let [name, id, encoded] = split_key(text.trim()).ok_or(malformed.clone())?;
        let public: [u8; 32] = untyped(encoded).ok_or(malformed.clone())?;
        let key = VerifyingKey::from_bytes(&public).map_err(|_| malformed.clone())?;
        let parsed = Self::new(name, key);
        if format!("{:08x}", parsed.id) != id {
            return Err(malformed);
        }
        Ok(parsed)
    }

    /// The key's text form, `name+id+key`.
    pub fn text(&self) -> String {
        format!("{}+{:08x}+{}", self.name, self.id, BASE64.encode(typed(self.key.as_bytes())))
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The time (seconds since the epoch) of this witness's cosignature on the signed note, once it
    /// checks; a note without one, or with one that does not check, is refused.
    pub fn check(&self, note: &str) -> Result<u64, CheckpointError> {
        let refused = || CheckpointError::BadSignature(self.text());
        let parsed = Note::from_bytes(note.as_bytes()).map_err(|_| CheckpointError::Malformed)?;
        let known = VerifierList::new(vec![Box::new(self.clone())]);
        let (verified, _) = parsed.verify(&known).map_err(|_| refused())?;
        let time = verified.first().and_then(|signature| signature.signature().get(..8)).ok_or_else(refused)?;
        Ok(u64::from_be_bytes(time.try_into().map_err(|_| refused())?))
    }
}

impl signed_note::Verifier for WitnessVerifierKey {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.id
    }

    fn verify(&self, msg: &[u8], sig: &[u8]) -> bool {
        let Some((time, signature)) = sig.split_first_chunk::<8>() else { return false };
        let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else { return false };
        self.key.verify_strict(&signed_message(u64::from_be_bytes(*time), msg), &signature).is_ok()
    }
}

fn typed(key: &[u8]) -> Vec<u8> {
    [&[COSIGNATURE_V1][..], key].concat()
}

/// The 32 key bytes after the cosignature type byte.
fn untyped(encoded: &str) -> Option<[u8; 32]> {
    let bytes = BASE64.decode(encoded).ok()?;
    match bytes.split_first() {
        Some((&COSIGNATURE_V1, key)) => key.try_into().ok(),
        _ => None,
    }
}

/// `name+id+key`: a name has no `+`, base64 may.
fn split_key(text: &str) -> Option<[&str; 3]> {
    let mut parts = text.splitn(3, '+');
    let parts = [parts.next()?, parts.next()?, parts.next()?];
    signed_note::is_key_name_valid(parts[0]).then_some(parts)
}

/// An add-checkpoint request: the size of the checkpoint the log believes the witness holds, the
/// consistency proof from it, and the new signed checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    pub old_size: u64,
    pub proof: Vec<Digest>,
    pub checkpoint: String,
}

impl AddCheckpoint {
    pub fn to_text(&self) -> String {
        let mut text = format!("old {}\n", self.old_size);
        for hash in &self.proof {
            text.push_str(&BASE64.encode(hash));
            text.push('\n');
        }
        text.push('\n');
        text.push_str(&self.checkpoint);
        text
    }

    pub fn parse(text: &str) -> Result<Self, Refusal> {
        let (head, checkpoint) = text.split_once("\n\n").ok_or(Refusal::Malformed)?;
        let mut lines = head.split('\n');
        let old_size = lines
            .next()
            .and_then(|line| line.strip_prefix("old "))
            .filter(|size| size.bytes().all(|byte| byte.is_ascii_digit()) && (size == &"0" || !size.starts_with('0')))
            .and_then(|size| size.parse().ok())
            .ok_or(Refusal::Malformed)?;
        let proof = lines
            .map(|line| {
                BASE64.decode(line).ok().and_then(|bytes| Digest::try_from(bytes).ok()).ok_or(Refusal::Malformed)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if proof.len() > MAX_PROOF_HASHES {
            return Err(Refusal::Malformed);
        }
        Ok(Self { old_size, proof, checkpoint: checkpoint.to_owned() })
    }
}

/// Why a witness does not cosign, each with its C2SP tlog-witness HTTP status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    #[error("the request is not an add-checkpoint request")]
    Malformed,
    #[error("the checkpoint is not signed by the log this witness follows: {0}")]
    NotTheLog(String),
    #[error("the old size {old} is larger than the checkpoint's {new}")]
    OldLargerThanNew { old: u64, new: u64 },
    /// The log and the witness disagree on what the witness holds: the log retries from `held`.
    #[error("this witness holds a checkpoint of size {held}, not {claimed}")]
    Conflict { held: u64, claimed: u64 },
    /// The new checkpoint's tree does not extend the one the witness holds: the log was rewritten (or
    /// the proof is wrong).
    #[error("the consistency proof does not show that the log only grew from {old} entries to {new}")]
    NotConsistent { old: u64, new: u64 },
}

impl Refusal {
    /// The HTTP status tlog-witness gives each refusal.
    pub fn status(&self) -> u16 {
        match self {
            Self::Malformed | Self::OldLargerThanNew { .. } => 400,
            Self::NotTheLog(_) => 403,
            Self::Conflict { .. } => 409,
            Self::NotConsistent { .. } => 422,
        }
    }
}

/// The witness's check of a request against what it holds (`held`, none before the first): the
/// checkpoint signed by the log, the sizes agreeing, and the proof that the held tree is a prefix of the
/// new one (the same tree when the sizes are equal). Returns the checkpoint to hold from now on.
pub fn accept(
    log: &VerifierKey,
    held: Option<&TreeHead>,
    request: &AddCheckpoint,
) -> Result<SignedCheckpoint, Refusal> {
    let checkpoint = log.open(&request.checkpoint).map_err(|error| Refusal::NotTheLog(error.to_string()))?;
    let new = checkpoint.head;
    let held_size = held.map_or(0, |head| head.size);
    if request.old_size > new.size {
        return Err(Refusal::OldLargerThanNew { old: request.old_size, new: new.size });
    }
    if request.old_size != held_size {
        return Err(Refusal::Conflict { held: held_size, claimed: request.old_size });
    }
    let inconsistent = Refusal::NotConsistent { old: held_size, new: new.size };
    match held {
        None if request.proof.is_empty() => {}
        None => return Err(inconsistent),
        Some(old) if old.size == new.size => {
            if old.root != new.root || !request.proof.is_empty() {
                return Err(inconsistent);
            }
        }
        Some(old) => tree::check_consistency(&request.proof, &new, old).map_err(|_| inconsistent)?,
    }
    Ok(checkpoint)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::SealKey;
    use crate::ledger::tree::{Frontier, Known};

    fn log_key() -> SealKey {
        SealKey::parse(&SealKey::generate("ms5-floor/plant-1").unwrap()).unwrap()
    }

    /// The heads of a tree of `leaves`, one per size, and every stored hash.
    fn grown(leaves: &[Digest]) -> (Vec<TreeHead>, Known) {
        let mut frontier = Frontier::new(0, Known::default());
        let (mut heads, mut stored) = (Vec::new(), Vec::new());
        for leaf in leaves {
            stored.extend(frontier.push(*leaf).unwrap());
            heads.push(TreeHead { size: frontier.size(), root: frontier.root().unwrap() });
        }
        (heads, Known::new(stored))
    }

    #[test]
    fn a_cosignature_checks_with_the_witness_key_only_and_carries_its_time() {
        let witness = WitnessKey::parse(&WitnessKey::generate("witness.example/w1").unwrap()).unwrap();
        let other = WitnessKey::parse(&WitnessKey::generate("witness.example/w1").unwrap()).unwrap();
        let verifier = WitnessVerifierKey::parse(&witness.verifier().text()).unwrap();
        let log = log_key();
        let checkpoint = log.sign(&TreeHead { size: 3, root: [9; 32] }).unwrap().text;
        let cosigned = witness.cosign(&checkpoint, 1_700_000_000).unwrap();
        assert_eq!(verifier.check(&cosigned).unwrap(), 1_700_000_000);
        assert!(other.verifier().check(&cosigned).is_err());
        assert!(verifier.check(&checkpoint).is_err(), "no cosignature");
        // The log's own signature still checks beside it.
        assert_eq!(log.verifier().open(&cosigned).unwrap().head.size, 3);
        // The line alone, appended to the checkpoint, is the same note.
        let line = witness.cosignature_line(&checkpoint, 1_700_000_000).unwrap();
        assert_eq!(format!("{checkpoint}{line}"), cosigned);
        // Another time or another checkpoint under the same signature does not check.
        let moved = cosigned.replace(&line, &witness.cosignature_line(&checkpoint, 1_700_000_001).unwrap()[..]);
        assert_eq!(verifier.check(&moved).unwrap(), 1_700_000_001);
        let other_checkpoint = log.sign(&TreeHead { size: 4, root: [9; 32] }).unwrap().text;
        assert!(verifier.check(&format!("{other_checkpoint}{line}")).is_err());
        assert!(
            WitnessVerifierKey::parse(log.verifier().as_str()).is_err(),
            "an Ed25519 note key is not a witness key"
        );
    }

    #[test]
    fn a_witness_accepts_a_log_that_grew_and_refuses_one_that_was_rewritten() {
        let log = log_key();
        let leaves: Vec<Digest> = (0u8..20).map(|byte| [byte; 32]).collect();
        let (heads, stored) = grown(&leaves);
        let request = |old: u64, new: &TreeHead| {
            let proof = if old == 0 || old >= new.size {
                Vec::new()
            } else {
                tree::consistency_proof(new.size, old, &stored).unwrap()
            };
            AddCheckpoint { old_size: old, proof, checkpoint: log.sign(new).unwrap().text }
        };
        let first = accept(log.verifier(), None, &request(0, &heads[6])).unwrap();
        assert_eq!(first.head, heads[6]);
        let parsed = AddCheckpoint::parse(&request(7, &heads[19]).to_text()).unwrap();
        assert_eq!(parsed, request(7, &heads[19]));
        assert_eq!(accept(log.verifier(), Some(&heads[6]), &parsed).unwrap().head, heads[19]);
        assert!(
            accept(log.verifier(), Some(&heads[19]), &request(20, &heads[19])).is_ok(),
            "the same checkpoint again"
        );
        assert_eq!(
            accept(log.verifier(), Some(&heads[6]), &request(5, &heads[19])).unwrap_err(),
            Refusal::Conflict { held: 7, claimed: 5 }
        );
        assert_eq!(accept(log.verifier(), Some(&heads[19]), &request(20, &heads[6])).unwrap_err().status(), 400);

        // The same log rewritten from entry 5 on: signed by the same key, it grows past what the
        // witness holds, but no proof takes the old tree into it.
        let mut rewritten = leaves.clone();
        rewritten[4] = [99; 32];
        rewritten.push([100; 32]);
        let (other_heads, other_stored) = grown(&rewritten);
        let forged = tree::consistency_proof(21, 7, &other_stored).unwrap();
        let refused =
            AddCheckpoint { old_size: 7, proof: forged, checkpoint: log.sign(&other_heads[20]).unwrap().text };
        assert_eq!(
            accept(log.verifier(), Some(&heads[6]), &refused).unwrap_err(),
            Refusal::NotConsistent { old: 7, new: 21 }
        );
        let same_size =
            AddCheckpoint { old_size: 7, proof: vec![], checkpoint: log.sign(&other_heads[6]).unwrap().text };
        assert_eq!(accept(log.verifier(), Some(&heads[6]), &same_size).unwrap_err().status(), 422);
        // Another log's key.
        let stranger =
            AddCheckpoint { old_size: 0, proof: vec![], checkpoint: log_key().sign(&heads[3]).unwrap().text };
        assert_eq!(accept(log.verifier(), None, &stranger).unwrap_err().status(), 403);
        for malformed in ["", "old 1\nx", "old 01\n\nx", "new 1\n\nx", "old 1\nnot base64!\n\nx"] {
            assert_eq!(AddCheckpoint::parse(malformed), Err(Refusal::Malformed), "{malformed:?}");
        }
    }
}
