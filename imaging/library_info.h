// Versions of the imaging libraries this build links (for About boxes and `doctor`).
#pragma once

#include <string>

namespace consilium::imaging {

std::string dcmtkVersion();   // "3.6.7"
std::string opencvVersion();  // "4.6.0"

}  // namespace consilium::imaging
