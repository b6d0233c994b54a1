package asl

// AthenaQuerySync is Step Functions' optimized Athena integration that
// starts a query and waits for it to end (StartQueryExecution, then
// GetQueryExecution until the query succeeds, fails or is cancelled).
const AthenaQuerySync = "arn:aws:states:::athena:startQueryExecution.sync"

// Athena's errors as Step Functions names them, retried by the states that
// call it: throttling and Athena's own transient failures.
var AthenaRetryable = []string{"Athena.TooManyRequestsException", "Athena.InternalServerException", "Athena.ThrottlingException"}
