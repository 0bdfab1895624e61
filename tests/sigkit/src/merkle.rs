//! RFC 6962 Merkle tree hashes and inclusion paths, over leaf hashes.

use sha2::{Digest, Sha256};

pub fn leaf_hash(data: &[u8]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([0u8]);
    h.update(data);
    h.finalize().into()
}

fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update([1u8]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

/// The largest power of two strictly less than `n` (n > 1).
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

/// MTH(D[n]) of RFC 6962 §2.1; `leaves` must not be empty.
pub fn root(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves.len() {
        1 => leaves[0],
        n => {
            let k = split(n);
            node_hash(&root(&leaves[..k]), &root(&leaves[k..]))
        }
    }
}

/// PATH(m, D[n]) of RFC 6962 §2.1.1: the audit path from leaf `m` up to the root.
pub fn inclusion_path(m: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    let n = leaves.len();
    if n <= 1 {
        return Vec::new();
    }
    let k = split(n);
    if m < k {
        let mut path = inclusion_path(m, &leaves[..k]);
        path.push(root(&leaves[k..]));
        path
    } else {
        let mut path = inclusion_path(m - k, &leaves[k..]);
        path.push(root(&leaves[..k]));
        path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The verifier's walk (sigstore-merkle), to check paths for every shape of tree.
    fn verify(leaf: [u8; 32], index: usize, size: usize, path: &[[u8; 32]]) -> [u8; 32] {
        let (mut hash, mut index, mut last) = (leaf, index, size - 1);
        for p in path {
            hash = if index % 2 == 1 || index == last {
                node_hash(p, &hash)
            } else {
                node_hash(&hash, p)
            };
            index /= 2;
            last /= 2;
        }
        hash
    }

    #[test]
    fn paths_lead_to_the_root() {
        for size in 1..20 {
            let leaves: Vec<_> = (0..size)
                .map(|i: u32| leaf_hash(&i.to_be_bytes()))
                .collect();
            for (i, leaf) in leaves.iter().enumerate() {
                let path = inclusion_path(i, &leaves);
                assert_eq!(verify(*leaf, i, size as usize, &path), root(&leaves));
            }
        }
    }
}
