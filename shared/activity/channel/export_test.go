package channel

// PlanByKey switches the plan's keyed path (see writePlan).
var PlanByKey = &planByKey
