// HEIF/AVIF decoding with libheif (codecs.h), opened on first use (shared_library.h).
#include <libheif/heif.h>

#include "image/codecs.h"
#include "image/shared_library.h"

namespace image::internal {
namespace {

// The libheif functions this decoder calls.
#define DAT_LIBHEIF_FUNCTIONS(X)                \
  X(heif_context_alloc)                         \
  X(heif_context_free)                          \
  X(heif_context_set_maximum_image_size_limit)  \
  X(heif_context_read_from_memory_without_copy) \
  X(heif_context_get_primary_image_handle)      \
  X(heif_image_handle_release)                  \
  X(heif_image_handle_get_width)                \
  X(heif_image_handle_get_height)               \
  X(heif_image_handle_has_alpha_channel)        \
  X(heif_decoding_options_alloc)                \
  X(heif_decoding_options_free)                 \
  X(heif_decode_image)                          \
  X(heif_image_release)                         \
  X(heif_image_get_plane_readonly)              \
  X(heif_image_get_width)                       \
  X(heif_image_get_height)

DAT_LIBRARY_API(HeifApi, DAT_LIBHEIF_FUNCTIONS);

// Owns what libheif hands out; released on every return path.
struct Heif {
  explicit Heif(const HeifApi& heif_api) : api(heif_api) {}
  ~Heif() {
    if (handle != nullptr) api.heif_image_handle_release(handle);
    if (ctx != nullptr) api.heif_context_free(ctx);
  }
  const HeifApi& api;
  heif_context* ctx = nullptr;
  heif_image_handle* handle = nullptr;
};

// libheif's functions, loaded on the first HEIF or AVIF file (DAT_LIBHEIF_SONAME and _PACKAGE come
// from the build: src/image/CMakeLists.txt).
common::Result<const HeifApi*> Libheif() {
  return LoadedApi<HeifApi>(DAT_LIBHEIF_SONAME, DAT_LIBHEIF_PACKAGE, "HEIF or AVIF");
}

common::Status HeifError(const char* what, const heif_error& err) {
  return common::InvalidArgument(std::string(what) + ": " +
                                 (err.message != nullptr ? err.message : "libheif error"));
}

// Parses the container (no decoding) and opens the primary image.
common::Status OpenPrimary(std::string_view data, Heif* heif) {
  const HeifApi& api = heif->api;
  heif->ctx = api.heif_context_alloc();
  if (heif->ctx == nullptr) return common::Internal("heif_context_alloc failed");
  // libheif's own guard against absurd sizes; ours (CheckLimits) is tighter.
  api.heif_context_set_maximum_image_size_limit(heif->ctx, 1 << 16);
  heif_error err =
      api.heif_context_read_from_memory_without_copy(heif->ctx, data.data(), data.size(), nullptr);
  if (err.code != heif_error_Ok) return HeifError("bad HEIF", err);
  err = api.heif_context_get_primary_image_handle(heif->ctx, &heif->handle);
  if (err.code != heif_error_Ok) return HeifError("bad HEIF", err);
  return common::Status::Ok();
}

}  // namespace

common::Result<ImageInfo> ReadHeifInfo(std::string_view data) {
  DAT_ASSIGN_OR_RETURN(const HeifApi* api, Libheif());
  Heif heif(*api);
  DAT_RETURN_IF_ERROR(OpenPrimary(data, &heif));
  ImageInfo info;
  info.width = api->heif_image_handle_get_width(heif.handle);
  info.height = api->heif_image_handle_get_height(heif.handle);
  info.has_alpha = api->heif_image_handle_has_alpha_channel(heif.handle) != 0;
  return info;
}

common::Result<std::unique_ptr<RowSource>> OpenHeifRows(std::string_view data,
                                                        const DecodeLimits& limits) {
  DAT_ASSIGN_OR_RETURN(const HeifApi* api, Libheif());
  Heif heif(*api);
  DAT_RETURN_IF_ERROR(OpenPrimary(data, &heif));
  const int w = api->heif_image_handle_get_width(heif.handle);
  const int h = api->heif_image_handle_get_height(heif.handle);
  const bool alpha = api->heif_image_handle_has_alpha_channel(heif.handle) != 0;
  // The decoder holds its YCbCr planes and the HEVC/AV1 decoder's pictures while it converts
  // them to interleaved RGB(A): 7.5 bytes a pixel in all for a 12 MP 4:2:0 HEIC to RGB.
  DAT_RETURN_IF_ERROR(CheckLimits("HEIF", w, h, (alpha ? 4 : 3) + 5, limits));
  // libheif 1.15 trusts a grid's declared canvas and an HEVC picture's size over `ispe`, and
  // allocates gigabytes for a lying file (fuzz/regressions/heif_ispe_mismatch_oom.heic):
  // both are checked here first.
  DAT_RETURN_IF_ERROR(CheckHeifGrids(data, limits, (alpha ? 4 : 3) + 5));
  DAT_RETURN_IF_ERROR(CheckHeifCodedSizes(data));
  heif_decoding_options* options = api->heif_decoding_options_alloc();
  options->convert_hdr_to_8bit = 1;
  heif_image* image = nullptr;
  heif_error err = api->heif_decode_image(
      heif.handle, &image, heif_colorspace_RGB,
      alpha ? heif_chroma_interleaved_RGBA : heif_chroma_interleaved_RGB, options);
  api->heif_decoding_options_free(options);
  if (err.code != heif_error_Ok) return HeifError("cannot decode HEIF", err);
  std::shared_ptr<heif_image> owner(image, api->heif_image_release);
  int stride = 0;
  const uint8_t* plane =
      api->heif_image_get_plane_readonly(image, heif_channel_interleaved, &stride);
  const int iw = api->heif_image_get_width(image, heif_channel_interleaved);
  const int ih = api->heif_image_get_height(image, heif_channel_interleaved);
  if (plane == nullptr || iw <= 0 || ih <= 0 ||
      static_cast<int64_t>(iw) * ih > static_cast<int64_t>(w) * h) {
    return common::InvalidArgument("bad HEIF: the decoded image has no usable pixels");
  }
  return std::unique_ptr<RowSource>(std::make_unique<InterleavedRows>(
      plane, static_cast<size_t>(stride), alpha ? 4 : 3, iw, ih, alpha, owner));
}

}  // namespace image::internal
