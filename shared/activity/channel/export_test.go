package channel

// PlanByKey switches the plan's keyed path (see writePlan).
var PlanByKey = &planByKey

// PlainAddress is the address shape that skips net/mail.
var PlainAddress = plainAddress

// PlanConstWaves switches the plan's path without zones (see writePlan).
var PlanConstWaves = &planConstWaves

// PlanOwnKeys switches the plan's path numbering a narrow input's own keys (see writePlan).
var PlanOwnKeys = &planOwnKeys
