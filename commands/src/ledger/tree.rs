//! The ledger's RFC 6962 Merkle tree (docs/event-store.md, "Tamper evidence"), through `tlog_tiles`:
//! leaf = SHA-256(0x00 || data), node = SHA-256(0x01 || left || right). Hashes are kept in the crate's
//! "stored hash" order (Crosby and Wallach), so a tree of any earlier size and every proof are read
//! from stored rows, never recomputed from all leaves.
//!
//! The crate reads hashes synchronously; ours are in PostgreSQL. Which hashes a proof needs depends only
//! on the sizes involved, so [`needed`] runs the crate once against a reader that only notes the
//! indexes, and the caller then reads those and runs it again with [`Known`].

use std::cell::RefCell;
use std::collections::HashMap;

use tlog_tiles::{Hash, HashReader};

pub type Digest = [u8; 32];

/// The tree head a checkpoint signs: how many entries and their root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TreeHead {
    pub size: u64,
    pub root: Digest,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TreeError {
    #[error("the stored hash {0} is missing")]
    Missing(u64),
    #[error("the proof does not verify")]
    InvalidProof,
    #[error("{0}")]
    InvalidInput(String),
}

impl From<tlog_tiles::Error> for TreeError {
    fn from(error: tlog_tiles::Error) -> Self {
        match error {
            tlog_tiles::Error::InvalidProof => Self::InvalidProof,
            other => Self::InvalidInput(other.to_string()),
        }
    }
}

/// What an event contributes as a leaf: its canonical bytes (`canonical::hashed_bytes`) followed by its
/// stream hash, so a leaf commits to the event and to its place in its stream's chain.
pub fn leaf_hash(canonical: &[u8], stream_hash: &[u8]) -> Digest {
    let mut data = Vec::with_capacity(canonical.len() + stream_hash.len());
    data.extend_from_slice(canonical);
    data.extend_from_slice(stream_hash);
    tlog_tiles::record_hash(&data).0
}

/// Stored hashes by index, as far as they are known.
#[derive(Debug, Default)]
pub struct Known(HashMap<u64, Digest>);

impl Known {
    pub fn new(hashes: impl IntoIterator<Item = (u64, Digest)>) -> Self {
        Self(hashes.into_iter().collect())
    }

    /// The hashes at `indexes`, in that order, when every one is known.
    pub fn all(&self, indexes: &[u64]) -> Option<Vec<Digest>> {
        indexes.iter().map(|index| self.0.get(index).copied()).collect()
    }
}

impl HashReader for Known {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|index| {
                self.0
                    .get(index)
                    .map(|hash| Hash(*hash))
                    .ok_or_else(|| tlog_tiles::Error::InvalidInput(format!("the stored hash {index} is missing")))
            })
            .collect()
    }
}

/// Notes the indexes asked for and answers with placeholders of the right number.
#[derive(Default)]
struct Noting(RefCell<Vec<u64>>);

impl HashReader for Noting {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.borrow_mut().extend_from_slice(indexes);
        Ok(vec![Hash([0; 32]); indexes.len()])
    }
}

/// The stored-hash indexes `compute` reads; `compute` must ask for the same ones whatever they hold.
pub fn needed<T>(compute: impl Fn(&dyn HashReader) -> Result<T, tlog_tiles::Error>) -> Vec<u64> {
    let noting = Noting::default();
    // The answer is made of placeholders; only the indexes asked for matter.
    let _ = compute(&noting);
    noting.0.into_inner()
}

struct Dyn<'a>(&'a dyn HashReader);
impl HashReader for Dyn<'_> {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        self.0.read_hashes(indexes)
    }
}

/// The root of the tree of the first `size` leaves.
pub fn root(size: u64, hashes: &dyn HashReader) -> Result<Digest, tlog_tiles::Error> {
    tlog_tiles::tree_hash(size, &Dyn(hashes)).map(|hash| hash.0)
}

/// The audit path showing that leaf `index` is in the tree of `size` leaves.
pub fn inclusion_proof(size: u64, index: u64, hashes: &dyn HashReader) -> Result<Vec<Digest>, tlog_tiles::Error> {
    tlog_tiles::prove_record(size, index, &Dyn(hashes)).map(|proof| proof.into_iter().map(|hash| hash.0).collect())
}

/// The proof that the tree of `old` leaves is a prefix of the tree of `size` leaves.
pub fn consistency_proof(size: u64, old: u64, hashes: &dyn HashReader) -> Result<Vec<Digest>, tlog_tiles::Error> {
    tlog_tiles::prove_tree(size, old, &Dyn(hashes)).map(|proof| proof.into_iter().map(|hash| hash.0).collect())
}

pub fn check_inclusion(proof: &[Digest], head: &TreeHead, index: u64, leaf: &Digest) -> Result<(), TreeError> {
    let proof: Vec<Hash> = proof.iter().map(|hash| Hash(*hash)).collect();
    Ok(tlog_tiles::check_record(&proof, head.size, Hash(head.root), index, Hash(*leaf))?)
}

pub fn check_consistency(proof: &[Digest], head: &TreeHead, old: &TreeHead) -> Result<(), TreeError> {
    let proof: Vec<Hash> = proof.iter().map(|hash| Hash(*hash)).collect();
    Ok(tlog_tiles::check_tree(&proof, head.size, Hash(head.root), old.size, Hash(old.root))?)
}

/// The right edge of a growing tree: the stored hashes of its largest complete subtrees, all that is
/// needed to add a leaf or to compute the root, and nothing else (at most 64 hashes however large).
#[derive(Debug, Default)]
pub struct Frontier {
    size: u64,
    edge: Known,
}

impl Frontier {
    /// The frontier of a tree of `size` leaves, from its stored hashes at [`Frontier::indexes`].
    pub fn new(size: u64, edge: Known) -> Self {
        Self { size, edge }
    }

    /// The stored-hash indexes the frontier of a tree of `size` leaves holds.
    pub fn indexes(size: u64) -> Vec<u64> {
        tlog_tiles::sub_tree_index(0, size, Vec::new())
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds the next leaf; returns the stored hashes it completes, with their indexes.
    pub fn push(&mut self, leaf: Digest) -> Result<Vec<(u64, Digest)>, TreeError> {
        let index = self.size;
        let first = tlog_tiles::stored_hash_index(0, index);
        let created: Vec<(u64, Digest)> = tlog_tiles::stored_hashes_for_record_hash(index, Hash(leaf), &self.edge)?
            .into_iter()
            .zip(first..)
            .map(|(hash, stored)| (stored, hash.0))
            .collect();
        self.edge.0.extend(created.iter().copied());
        self.size += 1;
        let keep = Self::indexes(self.size);
        self.edge.0.retain(|stored, _| keep.contains(stored));
        Ok(created)
    }

    pub fn root(&self) -> Result<Digest, TreeError> {
        Ok(root(self.size, &self.edge)?)
    }
}

#[cfg(test)]
mod tests {
    //! RFC 6962 known answers: the eight leaves and the roots, audit paths and consistency proofs that
    //! Certificate Transparency's reference implementation publishes for them.

    use super::*;

    const LEAVES: [&str; 8] =
        ["", "00", "10", "2021", "3031", "40414243", "5051525354555657", "606162636465666768696a6b6c6d6e6f"];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn hash(hex_text: &str) -> Digest {
        hex::decode(hex_text).unwrap().try_into().unwrap()
    }

    /// Every stored hash of the eight-leaf tree, built leaf by leaf as the sealer does.
    fn built() -> (Vec<Digest>, Known) {
        let mut frontier = Frontier::default();
        let mut all = Vec::new();
        let mut roots = Vec::new();
        for leaf in LEAVES {
            all.extend(frontier.push(tlog_tiles::record_hash(&hex::decode(leaf).unwrap()).0).unwrap());
            roots.push(frontier.root().unwrap());
        }
        (roots, Known::new(all))
    }

    #[test]
    fn the_roots_of_the_reference_tree_at_every_size_are_the_published_ones() {
        let (roots, stored) = built();
        let expected: Vec<Digest> = ROOTS.iter().map(|root| hash(root)).collect();
        assert_eq!(roots, expected);
        for (size, root) in (1..).zip(&expected) {
            assert_eq!(&super::root(size, &stored).unwrap(), root, "the root of size {size} from stored hashes");
        }
    }

    #[test]
    fn audit_paths_are_the_published_ones_and_check_only_for_their_leaf() {
        let (_, stored) = built();
        let head = TreeHead { size: 8, root: hash(ROOTS[7]) };
        let path = inclusion_proof(8, 0, &stored).unwrap();
        let published = [
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ];
        assert_eq!(path, published.map(hash));
        let leaf0 = tlog_tiles::record_hash(b"").0;
        check_inclusion(&path, &head, 0, &leaf0).unwrap();
        assert_eq!(check_inclusion(&path, &head, 1, &leaf0), Err(TreeError::InvalidProof));
        let other = tlog_tiles::record_hash(&[0]).0;
        assert_eq!(check_inclusion(&path, &head, 0, &other), Err(TreeError::InvalidProof));
        for index in 0..8 {
            let leaf = tlog_tiles::record_hash(&hex::decode(LEAVES[index as usize]).unwrap()).0;
            let path = inclusion_proof(8, index, &stored).unwrap();
            check_inclusion(&path, &head, index, &leaf).unwrap();
        }
    }

    #[test]
    fn consistency_proofs_are_the_published_ones_and_fail_for_another_history() {
        let (_, stored) = built();
        let head = |size: u64| TreeHead { size, root: hash(ROOTS[size as usize - 1]) };
        let six_to_eight = [
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ];
        assert_eq!(consistency_proof(8, 6, &stored).unwrap(), six_to_eight.map(hash));
        let two_to_five = [
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ];
        assert_eq!(consistency_proof(5, 2, &stored).unwrap(), two_to_five.map(hash));
        for old in 1..=8 {
            for size in old..=8 {
                let proof = consistency_proof(size, old, &stored).unwrap();
                check_consistency(&proof, &head(size), &head(old)).unwrap();
            }
        }
        let rewritten = TreeHead { size: 6, root: hash(ROOTS[4]) };
        let proof = consistency_proof(8, 6, &stored).unwrap();
        assert_eq!(check_consistency(&proof, &head(8), &rewritten), Err(TreeError::InvalidProof));
    }

    #[test]
    fn a_proof_reads_exactly_the_hashes_it_names_as_needed() {
        let (_, stored) = built();
        let wanted = needed(|hashes| inclusion_proof(7, 3, hashes));
        let only = Known::new(wanted.iter().map(|index| (*index, stored.0[index])));
        assert_eq!(inclusion_proof(7, 3, &only).unwrap(), inclusion_proof(7, 3, &stored).unwrap());
    }
}
