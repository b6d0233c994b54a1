package feedback

import (
	"container/list"
	"sync"
)

// indexes keeps key indexes mapped between appends: mapping a file anew for
// each batch faults in again every page the batch's lookups touch (~10,000
// per 1,000 ids and part). Index files are immutable (their paths name the
// version that wrote them), so a mapping never goes stale; the least recently
// used are unmapped past maxMapped bytes.
var indexes = &mapCache{byPath: map[string]*list.Element{}, lru: list.New()}

const maxMapped = 2 << 30

type mapCache struct {
	mu     sync.Mutex
	byPath map[string]*list.Element
	lru    *list.List // of *mapping, most recent first
	bytes  int64
}

type mapping struct {
	path  string
	data  []byte
	unmap func()
	users int
}

// get maps path (or takes its mapping) for one user; release when done.
func (c *mapCache) get(path string) (data []byte, release func(), err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.byPath[path]
	if !ok {
		b, unmap, err := mapFile(path)
		if err != nil {
			return nil, nil, err
		}
		e = c.lru.PushFront(&mapping{path: path, data: b, unmap: unmap})
		c.byPath[path] = e
		c.bytes += int64(len(b))
		c.evict()
	}
	c.lru.MoveToFront(e)
	m := e.Value.(*mapping)
	m.users++
	return m.data, func() {
		c.mu.Lock()
		defer c.mu.Unlock()
		m.users--
		c.evict()
	}, nil
}

// evict unmaps the least recently used unused mappings past maxMapped.
func (c *mapCache) evict() {
	for e := c.lru.Back(); e != nil && c.bytes > maxMapped; {
		prev := e.Prev()
		if m := e.Value.(*mapping); m.users == 0 {
			m.unmap()
			c.lru.Remove(e)
			delete(c.byPath, m.path)
			c.bytes -= int64(len(m.data))
		}
		e = prev
	}
}
