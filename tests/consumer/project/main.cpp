#include <cstdio>

#include <kerec/kerec.hpp>
#include <kerec/version.hpp>
#if defined(CONSUMER_HTTP)
#include <kerec/llm/openai_judge.hpp>
#endif

std::size_t second_translation_unit(const kerec::sim::World& world);

int main() {
    const auto world = kerec::sim::World::generate(kerec::sim::Config::preset("tiny"));
    kerec::Vocabulary<kerec::EntityId> v;
    const auto id = v.add("salsa");
    if (world.entities().size() != 60 || v.name(id) != "salsa") return 1;
    if (second_translation_unit(world) != world.items().size()) return 1;
    std::printf("consumer ok: kerec %d.%d.%d, %zu entities, %zu events, http %s\n", kerec::version_major,
                kerec::version_minor, kerec::version_patch, world.entities().size(), world.events().size(),
#if defined(CONSUMER_HTTP)
                "yes"
#else
                "no"
#endif
    );
    return 0;
}
