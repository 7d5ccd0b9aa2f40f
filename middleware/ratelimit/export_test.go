package ratelimit

// AllowBatch sends n decisions for key as ONE pipeline, bypassing the
// queue, so tests can exercise the multi-command path deterministically.
func (r *Redis) AllowBatch(key string, limit Limit, n int) ([]Decision, []error) {
	batch := make([]*pending, n)
	for i := range batch {
		batch[i] = &pending{keys: []string{r.prefix + key}, args: [3]any{limit.intervalMicros(), int64(limit.burst()), int64(-1)}, done: make(chan batchResult, 1)}
	}
	r.batch.exec(batch)
	ds, errs := make([]Decision, n), make([]error, n)
	for i, p := range batch {
		res := <-p.done
		ds[i], errs[i] = parseReply(res.vals, res.err)
	}
	return ds, errs
}
