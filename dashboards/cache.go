package dashboards

import (
	"container/list"
	"sync"
	"time"
)

// answerCache keeps recently read answers by id, bounded in bytes (least recently used out first) and in
// age (an entry older than ttl is read again from MongoDB). This instance's own replace and delete remove
// entries at once; another instance's write becomes visible here within ttl. A nil cache is off: every
// method is then a no-op.
type answerCache struct {
	mu       sync.Mutex
	maxBytes int64
	ttl      time.Duration
	now      func() time.Time
	bytes    int64
	// gen counts removals. A reader notes it before reading MongoDB and stores its answer only if no removal
	// happened meanwhile, so a read racing this instance's own replace cannot cache the old version.
	gen  uint64
	byID map[string]*list.Element
	lru  list.List // front = most recently used; values are *cacheEntry
}

type cacheEntry struct {
	d      Dashboard
	stored time.Time
}

// cacheEntryOverhead is what an entry costs besides its id and answer: the cacheEntry (64 bytes), its
// list.Element (48) and a map slot (string key and pointer at up to half occupancy: 48).
const cacheEntryOverhead = 160

// entrySize is what d costs in the cache: the answer's whole backing array, its id and the overhead.
func entrySize(d Dashboard) int64 {
	return int64(cap(d.JSON)+len(d.ID)) + cacheEntryOverhead
}

// size is the bytes of answers held (0 for a nil cache).
func (c *answerCache) size() int64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.bytes
}

func newAnswerCache(maxBytes int64, ttl time.Duration, now func() time.Time) *answerCache {
	return &answerCache{maxBytes: maxBytes, ttl: ttl, now: now, byID: make(map[string]*list.Element)}
}

func (c *answerCache) get(id string) (Dashboard, bool) {
	if c == nil {
		return Dashboard{}, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.byID[id]
	if !ok {
		return Dashboard{}, false
	}
	e := el.Value.(*cacheEntry)
	if c.now().Sub(e.stored) > c.ttl {
		c.removeElement(el)
		return Dashboard{}, false
	}
	c.lru.MoveToFront(el)
	return e.d, true
}

// generation returns the removal count to pass to put.
func (c *answerCache) generation() uint64 {
	if c == nil {
		return 0
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores d unless an entry was removed since generation gen was read.
func (c *answerCache) put(d Dashboard, gen uint64) {
	if c == nil || int64(len(d.JSON)) > c.maxBytes/4 {
		return // one huge dashboard must not flush everything else
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if el, ok := c.byID[d.ID]; ok {
		c.removeElement(el)
	}
	c.byID[d.ID] = c.lru.PushFront(&cacheEntry{d: d, stored: c.now()})
	c.bytes += entrySize(d)
	for c.bytes > c.maxBytes {
		c.removeElement(c.lru.Back())
	}
}

func (c *answerCache) remove(id string) {
	if c == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	if el, ok := c.byID[id]; ok {
		c.removeElement(el)
	}
}

func (c *answerCache) removeElement(el *list.Element) {
	e := c.lru.Remove(el).(*cacheEntry)
	delete(c.byID, e.d.ID)
	c.bytes -= entrySize(e.d)
}
