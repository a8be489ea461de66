"""The one stability rule every measurement of tune follows, whichever generator sends the load: perf_analyzer's own
with fixed settings (triton-inference-server/perf_analyzer src/inference_profiler.cc, `DetermineStability`), which
the built-in generator applies the same way. Kept apart from the generators so that `--help` states it without
importing them."""

WINDOW_MS = 300  # one measurement window
STABLE_WINDOWS = 3  # perf_analyzer's default: the last three windows decide
STABILITY_PERCENT = 10  # each within this much of their mean, in throughput and in average latency
MAX_WINDOWS = 10
WARM_UP_MS = 100  # after a reload, the same load first, not counted
STABILITY_RULE = (f"after a reload, {WARM_UP_MS} ms of the same load first, not counted; windows of {WINDOW_MS} "
                  f"ms; a measurement is stable when {STABLE_WINDOWS} windows in a row are within "
                  f"{STABILITY_PERCENT} % of their mean in throughput and in average latency (perf_analyzer's "
                  f"rule; the figures, p99 included, are those windows' requests together); not stable within "
                  f"{MAX_WINDOWS} windows, it is measured once more with windows of {2 * WINDOW_MS} ms, then reported "
                  "unstable")
