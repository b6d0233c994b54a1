package feedback

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"slices"

	"github.com/stepwise-run/stepwise/shared/dataset"
)

// A key index holds the event ids of one part of message_feedback as sorted
// 16-byte hashes (the first half of the id's SHA-256), so that an append
// checks its batch against the stored rows by binary search in each part's
// index instead of reading the table: O(batch × parts × log rows). Two ids
// with the same 128-bit hash would count as one (odds ~2⁻¹²⁸ per pair).
const keySize = 16

type keyHash [keySize]byte

func hashID(id string) keyHash {
	h := sha256.Sum256([]byte(id))
	return keyHash(h[:keySize])
}

func sortKeys(ks []keyHash) {
	slices.SortFunc(ks, func(a, b keyHash) int { return bytes.Compare(a[:], b[:]) })
}

// encodeKeys returns the index bytes of ks (sorted in place, duplicates dropped).
func encodeKeys(ks []keyHash) []byte {
	sortKeys(ks)
	ks = slices.Compact(ks)
	out := make([]byte, 0, len(ks)*keySize)
	for _, k := range ks {
		out = append(out, k[:]...)
	}
	return out
}

// inIndex reports whether k is in the sorted index idx.
func inIndex(idx []byte, k keyHash) bool {
	n := len(idx) / keySize
	i, j := 0, n
	for i < j {
		h := int(uint(i+j) >> 1)
		switch c := bytes.Compare(idx[h*keySize:h*keySize+keySize], k[:]); {
		case c == 0:
			return true
		case c < 0:
			i = h + 1
		default:
			j = h
		}
	}
	return false
}

// putKeys stores the index of ks at the table-relative name rel, beside the
// part written by the version ref.
func putKeys(ctx context.Context, eng *dataset.Engine, ref dataset.Ref, rel string, ks []keyHash) error {
	tmp := eng.ScratchFile(".keys")
	defer os.Remove(tmp)
	if err := os.WriteFile(tmp, encodeKeys(ks), 0o600); err != nil {
		return err
	}
	return eng.PutFile(ctx, ref.PartKey(rel), tmp)
}

// withIndex maps the key index of part p (of the version at ref) and calls fn
// with its bytes, valid during the call only (see indexes).
func withIndex(ctx context.Context, eng *dataset.Engine, ref dataset.Ref, p dataset.Part, fn func(idx []byte) error) error {
	path, err := eng.LocalFile(ctx, ref.PartKey(p.Keys))
	if err != nil {
		return fmt.Errorf("%s: key index %s: %w", Table, p.Keys, err)
	}
	idx, release, err := indexes.get(path)
	if err != nil {
		return fmt.Errorf("%s: key index %s: %w", Table, p.Keys, err)
	}
	defer release()
	if len(idx)%keySize != 0 {
		return fmt.Errorf("%s: key index %s is damaged: %d bytes, not a multiple of %d", Table, p.Keys, len(idx), keySize)
	}
	return fn(idx)
}

// stored returns which of ks the parts (all indexed) hold.
func stored(ctx context.Context, eng *dataset.Engine, ref dataset.Ref, parts []dataset.Part, ks []keyHash) (map[keyHash]bool, error) {
	found := map[keyHash]bool{}
	for _, p := range parts {
		err := withIndex(ctx, eng, ref, p, func(idx []byte) error {
			for _, k := range ks {
				if !found[k] && inIndex(idx, k) {
					found[k] = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return found, nil
}

// readKeys returns the keys of the index of part p.
func readKeys(ctx context.Context, eng *dataset.Engine, ref dataset.Ref, p dataset.Part) ([]keyHash, error) {
	var out []keyHash
	err := withIndex(ctx, eng, ref, p, func(idx []byte) error {
		out = make([]keyHash, len(idx)/keySize)
		for i := range out {
			copy(out[i][:], idx[i*keySize:])
		}
		return nil
	})
	return out, err
}
