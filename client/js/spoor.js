/* placeholder: the SDK lands here */
