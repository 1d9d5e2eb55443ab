#include "imaging/library_info.h"

#include <dcmtk/dcmdata/dcuid.h>
#include <opencv2/core/version.hpp>

namespace consilium::imaging {

std::string dcmtkVersion() {
    return OFFIS_DCMTK_VERSION_STRING;
}

std::string opencvVersion() {
    return CV_VERSION;
}

}  // namespace consilium::imaging
