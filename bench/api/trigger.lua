-- POST trigger with parameters; every request starts a new run.
wrk.method = "POST"
wrk.body = '{"params":{"region":"DE","limit":5}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. os.getenv("STEPWISE_TOKEN")
