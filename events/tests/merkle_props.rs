//! Property tests: for random sizes every proof built from stored nodes verifies, and a flipped
//! bit anywhere (proof node, leaf, root, index) makes it fail.

use events::merkle::{self, consistency_plan, inclusion_plan, leaf_hash, Hash, MerkleFrontier, NodeId};
use proptest::prelude::*;
use std::collections::HashMap;

fn tree(size: u64) -> (Vec<Hash>, HashMap<NodeId, Hash>, Vec<Hash>) {
    let mut f = MerkleFrontier::default();
    let mut made = Vec::new();
    let mut leaves = Vec::new();
    let mut roots = vec![merkle::empty_root()];
    for i in 0..size {
        let l = leaf_hash(&i.to_be_bytes());
        leaves.push(l);
        f.push(l, &mut made);
        roots.push(f.root());
    }
    (leaves, made.into_iter().collect(), roots)
}

fn flip(bytes: &mut [u8], bit: usize) {
    bytes[bit / 8 % bytes.len()] ^= 1 << (bit % 8);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn inclusion_proofs_verify_and_bit_flips_fail(size in 1u64..300, pick in any::<u64>(), bit in any::<usize>(), which in any::<usize>()) {
        let (leaves, nodes, roots) = tree(size);
        let index = pick % size;
        let proof = inclusion_plan(index, size).unwrap().resolve(&nodes).unwrap();
        let root = roots[size as usize];
        prop_assert!(merkle::verify_inclusion(index, size, &leaves[index as usize], &proof, &root).is_ok());
        // Flip one bit in the leaf, the root, or a proof node.
        let mut leaf = leaves[index as usize];
        let mut root2 = root;
        let mut proof2 = proof.clone();
        match which % (2 + proof.len()) {
            0 => flip(&mut leaf, bit),
            1 => flip(&mut root2, bit),
            k => flip(&mut proof2[k - 2], bit),
        }
        prop_assert!(merkle::verify_inclusion(index, size, &leaf, &proof2, &root2).is_err());
        // A wrong index fails too (where another index exists).
        if size > 1 {
            let other = (index + 1 + pick % (size - 1)) % size;
            prop_assert!(merkle::verify_inclusion(other, size, &leaves[index as usize], &proof, &root).is_err());
        }
    }

    #[test]
    fn consistency_proofs_verify_and_bit_flips_fail(n in 2u64..300, pick in any::<u64>(), bit in any::<usize>(), which in any::<usize>()) {
        let (_, nodes, roots) = tree(n);
        let m = 1 + pick % (n - 1);
        let proof = consistency_plan(m, n).unwrap().resolve(&nodes).unwrap();
        let (r1, r2) = (roots[m as usize], roots[n as usize]);
        prop_assert!(merkle::verify_consistency(m, n, &r1, &r2, &proof).is_ok());
        let (mut a, mut b, mut p) = (r1, r2, proof.clone());
        match which % (2 + proof.len()) {
            0 => flip(&mut a, bit),
            1 => flip(&mut b, bit),
            k => flip(&mut p[k - 2], bit),
        }
        prop_assert!(merkle::verify_consistency(m, n, &a, &b, &p).is_err());
    }

    #[test]
    fn proofs_read_logarithmically_many_nodes(size in 1u64..1_000_000_000, pick in any::<u64>()) {
        let index = pick % size;
        let depth = 64 - size.leading_zeros() as usize;
        prop_assert!(inclusion_plan(index, size).unwrap().nodes().len() <= 2 * depth + 1);
        if size > 1 {
            let m = 1 + pick % (size - 1);
            prop_assert!(consistency_plan(m, size).unwrap().nodes().len() <= 3 * depth + 1);
        }
    }
}

mod envelope_hash {
    use events::envelope::Event;
    use proptest::prelude::*;
    use serde_json::json;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]

        /// The fast envelope hash equals RFC 8785 of the whole object, for any strings.
        #[test]
        fn fast_hash_equals_generic_canonical_hash(stream in ".{0,12}", kind in "[A-Za-z\u{0400}-\u{04ff}]{1,12}", time in ".{0,30}", text in ".{0,40}", n in -9007199254740991i64..9007199254740991, f in -1e300f64..1e300, seq in 0u64..(1 << 53)) {
            let ev = Event {
                format: "housing-ledger/event/v1".into(), seq, prev: "ab".repeat(32), time, stream, stream_seq: seq / 2, kind,
                data: json!({"z": text, "a": [n, f, null, true], "\u{00e9}": {"b": 1, "a": "\u{2028}\u{0007}"}}),
                key: "0a1b2c3d".into(), hash: String::new(), sig: String::new(), stored: None,
            };
            prop_assert_eq!(ev.compute_hash().unwrap(), ev.compute_hash_generic().unwrap());
        }
    }
}
