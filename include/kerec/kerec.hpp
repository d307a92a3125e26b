// kerec/kerec.hpp — umbrella header: includes every component of kerec that needs no optional
// dependency. Include individual headers (<kerec/graph/...>) to keep compile times down.
#pragma once

#include "kerec/core/checksum.hpp"
#include "kerec/core/error.hpp"
#include "kerec/core/event.hpp"
#include "kerec/core/id.hpp"
#include "kerec/core/io.hpp"
#include "kerec/core/npy.hpp"
#include "kerec/core/progress.hpp"
#include "kerec/core/random.hpp"
#include "kerec/core/vocabulary.hpp"
#include "kerec/eval/stats.hpp"
#include "kerec/sim/world.hpp"
