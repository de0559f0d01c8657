"""PromQL over an in-memory TSDB, with the answers a real Prometheus 2.42 gives.

Pure: no network, no wall clock; imports nothing of slolab but ``slolab.errors``.

    tsdb.py         series, samples, staleness markers, lookback delta
    openmetrics.py  export for ``promtool tsdb create-blocks-from openmetrics``, and import
    synthetic.py    a seeded serving run's samples (vLLM and kube-state-metrics names)
    engine.py       Engine(db).query / query_range / api_response; parse errors with position
    evaluator.py    selectors, offset, @, subqueries; dispatch
    rangefuncs.py   rate, increase, delta, irate, idelta, deriv, *_over_time, ...
    functions.py    instant-vector functions, label_replace, sort, time, timestamp, ...
    aggregations.py sum ... count_values with by / without
    binops.py       arithmetic, comparison, and/or/unless, vector matching
    histogram.py    histogram_quantile and quantile
    command.py      ``slolab promql``: a table or the HTTP API body
"""
