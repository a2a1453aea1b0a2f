// The baseline splice split between two threads (WatermarkOptions::scan_threads): a second
// thread skips the second half of a scan without restart markers and the calling thread meets
// it where both find the same MCU start. Whatever happens, the output must be byte for byte the
// one-thread output; these tests also prove that the threads met and the second one's work was
// used, so that they fail if the feature silently stops working.
#include <gtest/gtest.h>
#include <sched.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <thread>

#include "common/files.h"
#include "common/subprocess.h"
#include "image/jpeg_parse.h"
#include "image/test_images.h"
#include "image/watermark.h"

namespace image {
namespace {

namespace fs = std::filesystem;
using testing::JpegSpec;
using testing::Pattern;
using testing::Spec;

int CpusAllowed() {
  cpu_set_t cpus;
  CPU_ZERO(&cpus);
  return sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : 1;
}

common::Result<WatermarkResult> WatermarkWith(const std::string& jpeg, ScanThreads threads,
                                              Gravity gravity = Gravity::kSouthEast) {
  WatermarkOptions options;
  options.scan_threads = threads;
  options.gravity = gravity;
  return Watermark(jpeg, options);
}

// Watermarks `jpeg` with one thread and with `threads`: the same outcome, byte for byte (or
// the same error). Returns the result with `threads`.
WatermarkResult ExpectSameAsOneThread(const std::string& jpeg, ScanThreads threads,
                                      Gravity gravity = Gravity::kSouthEast) {
  auto one = WatermarkWith(jpeg, ScanThreads::kOne, gravity);
  auto two = WatermarkWith(jpeg, threads, gravity);
  EXPECT_EQ(one.ok(), two.ok());
  if (!one.ok() || !two.ok()) {
    if (!one.ok() && !two.ok()) {
      EXPECT_EQ(one.status().ToString(), two.status().ToString());
    }
    return WatermarkResult{};
  }
  EXPECT_TRUE(one->data == two->data)
      << "outputs differ (" << one->data.size() << " and " << two->data.size() << " bytes)";
  EXPECT_EQ(one->path, two->path);
  EXPECT_EQ(one->fallback_reason, two->fallback_reason);
  EXPECT_EQ(one->scan_threads, 1);
  EXPECT_EQ(one->second_thread_mcus, 0);
  return *two;
}

int Mcus(const std::string& jpeg) {
  auto h = internal::ParseJpegHeader(jpeg);
  EXPECT_TRUE(h.ok());
  int hmax = 1, vmax = 1;
  for (int c = 0; h->num_components > 1 && c < h->num_components; ++c) {
    hmax = std::max(hmax, static_cast<int>(h->comp[c].h));
    vmax = std::max(vmax, static_cast<int>(h->comp[c].v));
  }
  return ((h->width + 8 * hmax - 1) / (8 * hmax)) * ((h->height + 8 * vmax - 1) / (8 * vmax));
}

std::string Slurp(const fs::path& path) {
  auto data = common::ReadFile(path.string());
  EXPECT_TRUE(data.ok()) << data.status().ToString();
  return data.ok() ? std::move(data).value() : std::string();
}

// A photo-like picture written by cjpeg (libjpeg-turbo's command-line encoder) with `flags`.
std::string Cjpeg(int width, int height, const std::vector<std::string>& flags) {
  const fs::path dir = fs::temp_directory_path() / ("jpeg_split_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const auto pixels = testing::MakePixels(width, height, 3, Pattern::kPhoto, 7);
  std::string ppm = "P6\n" + std::to_string(width) + " " + std::to_string(height) + "\n255\n";
  ppm.append(reinterpret_cast<const char*>(pixels.data()), pixels.size());
  std::ofstream(dir / "in.ppm", std::ios::binary) << ppm;
  common::SpawnOptions spawn;
  spawn.argv = {"cjpeg"};
  spawn.argv.insert(spawn.argv.end(), flags.begin(), flags.end());
  spawn.argv.insert(spawn.argv.end(),
                    {"-outfile", (dir / "out.jpg").string(), (dir / "in.ppm").string()});
  spawn.stdout_to = "pipe";
  spawn.stderr_to = "pipe";
  auto run = common::RunCommand(spawn, std::chrono::seconds(60));
  EXPECT_TRUE(run.ok() && run->exit_code == 0) << "cjpeg (scripts/install-deps installs it)";
  std::string jpeg = Slurp(dir / "out.jpg");
  fs::remove_all(dir);
  return jpeg;
}

// The benchmark's case: 12 MP, 4:2:0, libjpeg's standard tables, no restart markers.
const std::string& TwelveMegapixels() {
  static const std::string* jpeg = new std::string(Cjpeg(4000, 3000, {"-quality", "90"}));
  return *jpeg;
}

TEST(SplitScan, TwelveMegapixelPhotoTakesTwoThreadsAndGivesTheSameBytes) {
  const std::string& jpeg = TwelveMegapixels();
  ASSERT_GT(jpeg.size(), 1u << 20);
  // By default: two threads when the process may use two CPUs.
  const WatermarkResult automatic = ExpectSameAsOneThread(jpeg, ScanThreads::kAuto);
  EXPECT_EQ(automatic.path, WatermarkPath::kEntropy);
  EXPECT_EQ(automatic.scan_threads, CpusAllowed() > 1 ? 2 : 1);
  // Forced (and waiting for the second thread where they may meet, so that the meeting does
  // not depend on timing): they met, and most of the second half was jumped over.
  const WatermarkResult forced = ExpectSameAsOneThread(jpeg, ScanThreads::kTwo);
  EXPECT_EQ(forced.scan_threads, 2);
  EXPECT_GT(forced.second_thread_mcus, Mcus(jpeg) / 4);
  // And the second thread coded some of the logo's rows (which of them depends on timing).
  const int rows = forced.changed_box.height / 16;
  EXPECT_GT(forced.second_thread_logo_rows, 0);
  EXPECT_LT(forced.second_thread_logo_rows, rows + 1);
}

TEST(SplitScan, EveryGravityGivesTheSameBytes) {
  const std::string& jpeg = TwelveMegapixels();
  for (Gravity g :
       {Gravity::kNorthWest, Gravity::kNorthEast, Gravity::kSouthWest, Gravity::kCenter}) {
    SCOPED_TRACE(GravityName(g));
    const WatermarkResult two = ExpectSameAsOneThread(jpeg, ScanThreads::kTwo, g);
    EXPECT_EQ(two.scan_threads, 2);
    EXPECT_GT(two.second_thread_mcus, Mcus(jpeg) / 4);
  }
}

struct Layout {
  const char* name;
  JpegSpec spec;
  bool meets;  // a second thread is expected, and to meet the first
};

void PrintTo(const Layout& layout, std::ostream* os) { *os << layout.name; }

std::vector<Layout> Layouts() {
  std::vector<Layout> layouts = {
      {"420", Spec(1600, 1200, 3, 2, 2), true},    {"444", Spec(1600, 1200, 3, 1, 1), true},
      {"422_odd", Spec(1203, 901, 3, 2, 1), true}, {"gray", Spec(1600, 1200, 1, 1, 1), true},
      {"small", Spec(640, 480, 3, 2, 2), true},
  };
  Layout noise{"noise_stuffing", Spec(800, 600, 3, 2, 2), true};
  noise.spec.pattern = Pattern::kNoise;  // many 0xFF bytes, stuffed
  layouts.push_back(noise);
  Layout text{"text", Spec(1600, 1200, 3, 2, 2), true};
  text.spec.pattern = Pattern::kText;
  layouts.push_back(text);
  // Full optimized tables: codes change and every occurrence is written again; the walk takes
  // one thread (the second would have to record the changed codes too).
  Layout full{"optimized_tables_full", Spec(1600, 1200, 3, 2, 2), false};
  full.spec.optimize = true;
  layouts.push_back(full);
  // Restart markers split the scan already.
  Layout restart{"restart_rows", Spec(1600, 1200, 3, 2, 2), false};
  restart.spec.restart_rows = 1;
  layouts.push_back(restart);
  return layouts;
}

class SplitLayouts : public ::testing::TestWithParam<Layout> {};

TEST_P(SplitLayouts, SameBytesAsOneThread) {
  const Layout& layout = GetParam();
  const std::string jpeg = testing::MakeJpeg(layout.spec);
  const WatermarkResult two = ExpectSameAsOneThread(jpeg, ScanThreads::kTwo);
  EXPECT_EQ(two.path, WatermarkPath::kEntropy);
  if (layout.meets) {
    EXPECT_EQ(two.scan_threads, 2);
    EXPECT_GT(two.second_thread_mcus, Mcus(jpeg) / 5);
    EXPECT_GT(two.second_thread_logo_rows, 0);
  } else {
    EXPECT_EQ(two.scan_threads, 1);
    EXPECT_EQ(two.second_thread_mcus, 0);
  }
  // Small scans (under 256 KB) are not worth a thread by default.
  if (jpeg.size() < (256u << 10)) {
    EXPECT_EQ(ExpectSameAsOneThread(jpeg, ScanThreads::kAuto).scan_threads, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(All, SplitLayouts, ::testing::ValuesIn(Layouts()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(SplitScan, OptimizedTablesFromRealEncodersGiveTheSameBytes) {
  // cjpeg -optimize fills the luma table: codes are rewritten, and the scan is walked on one
  // thread (the second thread would have to record the changed codes too).
  const std::string jpeg = Cjpeg(1600, 1200, {"-optimize", "-quality", "90"});
  const WatermarkResult two = ExpectSameAsOneThread(jpeg, ScanThreads::kTwo);
  EXPECT_EQ(two.path, WatermarkPath::kEntropy);
  EXPECT_EQ(two.scan_threads, 1);
  // Restart markers written by cjpeg: one thread.
  const std::string restart = Cjpeg(1600, 1200, {"-restart", "2", "-quality", "90"});
  EXPECT_EQ(ExpectSameAsOneThread(restart, ScanThreads::kTwo).scan_threads, 1);
}

// The entropy-coded bytes of a baseline file: from after its SOS header to the EOI.
std::pair<size_t, size_t> ScanBytes(const std::string& jpeg) {
  auto h = internal::ParseJpegHeader(jpeg);
  EXPECT_TRUE(h.ok());
  return {h->scan_data, jpeg.rfind("\xFF\xD9")};
}

// Corrupt data anywhere, most of all where the second thread walks: the one-thread outcome
// (an error, a fallback to the coefficient path, or an output), exactly.
TEST(SplitScan, CorruptDataGivesTheOneThreadOutcome) {
  JpegSpec spec;
  spec.width = 1600;
  spec.height = 1200;
  const std::string jpeg = testing::MakeJpeg(spec);
  const auto [begin, end] = ScanBytes(jpeg);
  int corrupt = 0, written = 0;
  uint32_t seed = 12345;
  for (double at : {0.05, 0.3, 0.45, 0.5, 0.55, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 0.999}) {
    for (int length : {1, 3, 40}) {
      SCOPED_TRACE(std::to_string(at) + " x" + std::to_string(length));
      std::string bad = jpeg;
      size_t i = begin + static_cast<size_t>((end - begin) * at);
      for (int k = 0; k < length && i + 1 < end; ++i) {
        // Never a 0xFF nor the byte after one: that would make a marker, found before decoding.
        if (bad[i] == '\xFF' || bad[i - 1] == '\xFF') continue;
        seed = seed * 1103515245 + 12345;
        char b = static_cast<char>(bad[i] ^ ((seed >> 16) & 0xFF));
        if (b == '\xFF') b = '\x7F';
        bad[i] = b;
        ++k;
      }
      const WatermarkResult two = ExpectSameAsOneThread(bad, ScanThreads::kTwo);
      corrupt += two.fallback_reason == "corrupt entropy-coded data";
      written += two.path == WatermarkPath::kEntropy;
    }
  }
  // Both outcomes were exercised: data the walk rejects, and data it reads (other values).
  EXPECT_GT(corrupt, 5);
  EXPECT_GT(written, 0);
}

TEST(SplitScan, ConcurrentCallsGiveTheSameBytes) {
  JpegSpec spec;
  spec.width = 1600;
  spec.height = 1200;
  const std::string jpeg = testing::MakeJpeg(spec);
  auto expected = WatermarkWith(jpeg, ScanThreads::kOne);
  ASSERT_TRUE(expected.ok());
  std::vector<std::string> outputs(4);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < outputs.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        auto r = WatermarkWith(jpeg, ScanThreads::kTwo);
        outputs[t] = r.ok() ? r->data : "error";
        if (outputs[t] != expected->data) return;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  for (const std::string& out : outputs) EXPECT_TRUE(out == expected->data);
}

TEST(SplitScan, TheCliReportsTheThreads) {
  const fs::path dir = fs::temp_directory_path() / ("jpeg_split_cli_" + std::to_string(getpid()));
  fs::create_directories(dir);
  std::ofstream(dir / "in.jpg", std::ios::binary) << TwelveMegapixels();
  for (bool one : {false, true}) {
    common::SpawnOptions spawn;
    spawn.argv = {std::string(DAT_BIN_DIR) + "/watermark", "--json", (dir / "in.jpg").string(),
                  (dir / "out.jpg").string()};
    if (one) spawn.argv.push_back("--one-thread");
    spawn.stdout_to = "pipe";
    spawn.stderr_to = "pipe";
    auto run = common::RunCommand(spawn, std::chrono::seconds(60));
    ASSERT_TRUE(run.ok());
    EXPECT_EQ(run->exit_code, 0) << run->err;
    const int expected = one || CpusAllowed() < 2 ? 1 : 2;
    EXPECT_NE(run->out.find("\"scan_threads\":" + std::to_string(expected)), std::string::npos)
        << run->out;
  }
  fs::remove_all(dir);
}

}  // namespace
}  // namespace image
