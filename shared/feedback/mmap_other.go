//go:build !unix

package feedback

import "os"

// mapFile reads a file (no mapping on this system).
func mapFile(path string) (data []byte, unmap func(), err error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}
