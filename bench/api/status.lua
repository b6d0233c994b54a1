-- GET run status (activities and counts on every transition).
wrk.headers["Authorization"] = "Bearer " .. os.getenv("STEPWISE_TOKEN")
