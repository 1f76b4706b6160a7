// Package vntime holds Vietnam's time zone, the one Kyso writes dates in: numbers
// reset on 1 January Vietnam time (Decree 30/2020), signing times are shown as
// ISO 8601 with +07:00, and the pages show dates as Vietnamese offices read them.
// Vietnam has kept UTC+7 without daylight saving since 1975, so a fixed zone is exact
// and needs no tzdata on the machine.
package vntime

import "time"

// Zone is UTC+07:00, named ICT (Indochina Time).
var Zone = time.FixedZone("ICT", 7*60*60)
