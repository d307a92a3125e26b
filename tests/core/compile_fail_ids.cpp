// Compiled twice by ctest: as is (must compile) and with KEREC_MIX_IDS (must not).
#include <kerec/core/id.hpp>

static int use_entity(kerec::EntityId e) { return static_cast<int>(e.value()); }

int main() {
    kerec::EntityId e{1};
    kerec::ItemId i{1};
#ifdef KEREC_MIX_IDS
    return use_entity(i);  // an ItemId is not an EntityId
#else
    (void)i;
    return use_entity(e) - 1;
#endif
}
