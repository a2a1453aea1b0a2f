// The watermark's command-line options, shared by the `watermark` tool and the `twitter`
// function so that both accept the same names, ranges and defaults. Header-only (CLI11).
#pragma once

#include <CLI/CLI.hpp>
#include <string>

#include "image/watermark.h"

namespace image {

// Registers --gravity, --margin, --scale, --opacity and --logo on `app`. With a non-empty
// `env_prefix` each also reads <env_prefix>GRAVITY, …MARGIN, …SCALE, …OPACITY, …LOGO when the
// flag is absent (e.g. TWITTER_SCALE=0.2 for a function configured by its environment).
inline void AddWatermarkFlags(CLI::App& app, WatermarkOptions* options, std::string* gravity,
                              std::string* logo_path, const std::string& env_prefix = "") {
  auto env = [&](CLI::Option* o, const char* name) {
    if (!env_prefix.empty()) o->envname(env_prefix + name);
    return o;
  };
  env(app.add_option("--gravity", *gravity,
                     "Logo corner as the viewer sees it (EXIF orientation applied): southeast, "
                     "southwest, northeast, northwest or center"),
      "GRAVITY")
      ->capture_default_str()
      ->check([](const std::string& value) -> std::string {
        auto parsed = ParseGravity(value);
        return parsed.ok() ? "" : parsed.status().message();
      });
  env(app.add_option("--margin", options->margin, "Distance from the image edges, in pixels"),
      "MARGIN")
      ->capture_default_str()
      ->check(CLI::Range(0, 10000));
  env(app.add_option("--scale", options->scale, "Logo width as a fraction of the image width"),
      "SCALE")
      ->capture_default_str()
      ->check(CLI::Range(0.01, 1.0));
  env(app.add_option("--opacity", options->opacity, "Logo opacity, 0..1 (multiplies its alpha)"),
      "OPACITY")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 1.0));
  env(app.add_option("--logo", *logo_path, "PNG to use as the logo instead of the built-in one"),
      "LOGO")
      ->check(CLI::ExistingFile);
}

}  // namespace image
