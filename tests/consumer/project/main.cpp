#include <cstdio>

#include <kerec/kerec.hpp>

int main() {
    const auto world = kerec::sim::World::generate(kerec::sim::Config::preset("tiny"));
    kerec::Vocabulary<kerec::EntityId> v;
    const auto id = v.add("salsa");
    if (world.entities().size() != 60 || v.name(id) != "salsa") return 1;
    std::printf("consumer ok: %zu entities, %zu events\n", world.entities().size(), world.events().size());
    return 0;
}
