# Per-generator settings: the .deb installs under /usr; the .tar.gz is a self-contained
# folder (bin/, lib/, share/) that runs from wherever it is unpacked.
if(CPACK_GENERATOR STREQUAL "DEB")
    set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
else()
    set(CPACK_PACKAGING_INSTALL_PREFIX "/")
    set(CPACK_INCLUDE_TOPLEVEL_DIRECTORY ON)
    set(CPACK_PACKAGE_FILE_NAME "consilium-${CPACK_PACKAGE_VERSION}-linux-x86_64")
endif()
