// InputTransformer rendering, against the examples of EventBridge's documentation.
#include "localcloud/eventbridge/input_transformer.h"

#include <gtest/gtest.h>

namespace localcloud::eventbridge {
namespace {

using nlohmann::json;

TEST(InputTransformerTest, QuotesStringsPlacedOutsideQuotesInJsonTemplates) {
  std::map<std::string, std::optional<json>> vars = {{"instance", json("i-0123456789")},
                                                     {"state", json("running")},
                                                     {"n", json(3)},
                                                     {"tags", json::parse(R"({"a":["x"]})")},
                                                     {"said", json("say \"hi\"\n")},
                                                     {"missing", std::nullopt}};
  struct Case {
    std::string tmpl, want;
  };
  for (const Case& c : std::vector<Case>{
           // The documentation's example: strings outside quotes come out quoted.
           {R"({"instance": <instance>, "state": [9, <state>, true], "Transformed": "Yes"})",
            R"({"instance": "i-0123456789", "state": [9, "running", true], "Transformed": "Yes"})"},
           {R"({"from": "<instance>"})", R"({"from": "i-0123456789"})"},
           {R"({"n": <n>, "s": "<n>", "t": <tags>})", R"({"n": 3, "s": "3", "t": {"a":["x"]}})"},
           {R"({"said": <said>, "in": "<said>"})",
            R"({"said": "say \"hi\"\n", "in": "say \"hi\"\n"})"},
           {R"({"m": <missing>, "q": "<missing>", "e": "a\"<state>"})",
            R"({"m": null, "q": "", "e": "a\"running"})"},
           {R"("<instance> is in state <state>")", R"("i-0123456789 is in state running")"},
           {"instance <instance> is <unknown>", "instance i-0123456789 is <unknown>"},
       }) {
    std::string got = RenderInputTemplate(c.tmpl, vars);
    EXPECT_EQ(got, c.want) << c.tmpl;
    if (c.tmpl.front() == '{') EXPECT_TRUE(json::accept(got)) << got;
  }
}

}  // namespace
}  // namespace localcloud::eventbridge
