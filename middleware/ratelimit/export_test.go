package ratelimit

// AllowBatch sends one decision per entry of keys (repeat a key for several
// requests of it) as ONE batch, bypassing the queue, so tests can exercise
// the pipelined and coalesced paths deterministically.
func (r *Redis) AllowBatch(keys []string, limit Limit) ([]Decision, []error) {
	batch := make([]*pending, len(keys))
	now := int64(-1) // the Redis server's clock, as Allow without Now
	if r.now != nil {
		now = r.now().UnixMicro()
	}
	for i, key := range keys {
		batch[i] = &pending{keys: []string{r.prefix + key}, args: [3]any{limit.intervalMicros(), int64(limit.burst()), now}, done: make(chan batchResult, 1)}
	}
	r.batch.exec(batch)
	ds, errs := make([]Decision, len(keys)), make([]error, len(keys))
	for i, p := range batch {
		res := <-p.done
		ds[i], _, errs[i] = parseReply(res.vals, res.err)
		if errs[i] == nil {
			ds[i].Limit = limit.burst()
		}
	}
	return ds, errs
}
