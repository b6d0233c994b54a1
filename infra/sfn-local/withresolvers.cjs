// Node 20 lacks Promise.withResolvers, which aws-local-stepfunctions 3 uses for every Task.
if (!Promise.withResolvers) Promise.withResolvers = () => {
  let resolve, reject; const promise = new Promise((a, b) => { resolve = a; reject = b })
  return { promise, resolve, reject }
}
